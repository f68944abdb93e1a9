"""Every render (defaults, seed, every feature set) is valid against the
Kubernetes 1.34 OpenAPI schemas and the Traefik CRDs, and snapshots."""

import subprocess

import pytest

from chartest import find_tool, pins
from chartest.gate import helm_lint
from chart_data import FEATURE_SETS, SEED_VALUES


@pytest.mark.parametrize("name", list(FEATURE_SETS))
def test_feature_set_is_schema_valid(render, validate_schemas, name):
    validate_schemas(render(FEATURE_SETS[name]))


def test_seed_render_is_schema_valid(seed, validate_schemas):
    validate_schemas(seed)


def test_default_snapshot(default, snapshot):
    snapshot.assert_match(default, "default")


def test_seed_snapshot(seed, snapshot):
    snapshot.assert_match(seed, "seed")


def test_all_features_snapshot(render, snapshot):
    snapshot.assert_match(render(FEATURE_SETS["scaling"], set={"tls.enabled": "true",
                                                                "networkPolicy.egress.enabled": "true",
                                                                "mongo.persistence.enabled": "true"}),
                          "all-features")


def test_default_resource_inventory(default):
    assert sorted(default.refs()) == sorted([
        "Deployment/api", "Deployment/ws", "Deployment/www", "Deployment/nats", "StatefulSet/mongo",
        "Service/api", "Service/ws", "Service/www", "Service/nats", "Service/mongo", "Secret/nats-credentials",
        "ServiceAccount/api", "ServiceAccount/ws", "ServiceAccount/www", "ServiceAccount/nats",
        "ServiceAccount/mongo", "Secret/mongo", "ConfigMap/nats-config", "IngressRoute/webhook",
        "NetworkPolicy/default-deny", "NetworkPolicy/api-from-ingress", "NetworkPolicy/ws-from-ingress",
        "NetworkPolicy/www-from-ingress", "NetworkPolicy/mongo-from-apps", "NetworkPolicy/nats-from-apps",
        # the `helm test` hook pod and the policies admitting it to api and ws
        "Pod/acceptance-test", "NetworkPolicy/api-from-tests", "NetworkPolicy/ws-from-tests"])


def test_every_resource_in_release_namespace(render):
    m = render(namespace="elsewhere")
    assert {r.namespace for r in m} == {"elsewhere"}


def test_helm_lint_strict(chart_dir):
    """helm lint --strict with the seed's values (chartest's lint: cached by chart and values content)."""
    result = helm_lint(chart_dir, [SEED_VALUES], kube_version=pins.get("kubernetes.version"), strict=True)
    assert result.returncode == 0, result.output
    assert "[WARNING]" not in result.output and "[ERROR]" not in result.output


def test_plain_helm_template_works_with_the_pinned_helm(chart_dir):
    """The pinned helm defaults .Capabilities.KubeVersion to the pinned Kubernetes, not v1.20,
    so a plain `helm template` of a chart with `kubeVersion: >=1.30` works as users type it."""
    out = subprocess.run([find_tool("helm"), "template", "x", str(chart_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_chart_metadata(chart_dir):
    import yaml
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    assert (chart["apiVersion"], chart["name"], chart["kubeVersion"]) == ("v2", "webhooks", ">=1.30.0-0")


def test_old_kubernetes_is_refused(render_fails):
    # 1.29 lacks the native preStop `sleep` action the pods use.
    render_fails(kube_version="v1.29.9", match="kubeVersion")


def test_helmfile_pins_traefik_chart(chart_dir):
    import yaml
    doc = yaml.safe_load((chart_dir.parent / "helmfile.yaml").read_text())
    repos = {r["name"]: r["url"] for r in doc["repositories"]}
    assert repos["traefik"] == "https://traefik.github.io/charts"
    rel = {r["name"]: r for r in doc["releases"]}
    assert rel["traefik"]["chart"] == "traefik/traefik"
    assert rel["traefik"]["version"] == pins.get("traefik.chart")
    assert rel["webhooks"]["chart"] == "./chart"
    assert rel["webhooks"]["namespace"] == "webhooks"


def test_notes_say_how_to_reach_the_app(chart_dir):
    text = (chart_dir / "templates" / "NOTES.txt").read_text()
    assert '{{ $scheme }}://{{ .Values.domain }}' in text and 'ternary "https" "http" .Values.tls.enabled' in text
