"""The release gate (chartest.gate) applied to this repository's chart: helm lint --strict with every
values set, the version bump and upgrade safety against the base ref (--base-ref, default the
merge-base with main, HEAD~1 on main), and the `helm test` hook pod the chart ships."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from chartest import state_dir
from chartest.gate import ValuesSet, compare_manifests
from chart_data import FEATURE_SETS, SEED_VALUES


def _values_sets() -> dict[str, ValuesSet]:
    """The chart's defaults, the seed's values file and every feature set, each as a values file.

    The feature sets' files are named by their content in the state directory's cache, so the
    same values keep the same path from run to run and lint and renders come from the cache. They
    are written when this module is collected: the render plan starts the lints that use them
    right after collection."""
    d = state_dir() / "cache" / "values-files"
    sets = {"defaults": ValuesSet("chart defaults"), "seed": ValuesSet(str(SEED_VALUES), (SEED_VALUES,))}
    for name, values in FEATURE_SETS.items():
        if values:
            text = json.dumps(values)   # JSON is YAML, and keeps helm's YAML 1.1 from reading y/n as booleans
            path = d / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
            if not path.is_file():
                d.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(text)
                tmp.replace(path)   # atomic: a concurrent run never reads half a file
            sets[name] = ValuesSet(f"feature set {name}", (path,))
    return sets


VALUES_SETS = _values_sets()


@pytest.fixture(scope="module")
def values_sets() -> dict[str, ValuesSet]:
    return VALUES_SETS


@pytest.mark.parametrize("name", ["defaults", "seed", *[n for n in FEATURE_SETS if FEATURE_SETS[n]]])
def test_helm_lint_strict(release_gate, values_sets, name):
    release_gate.assert_lint_clean(values_sets[name])


def test_version_bumped_when_the_chart_changed(release_gate):
    if not release_gate.base_ref:
        pytest.fail("no git base ref: the unit tier runs in a git checkout (give --base-ref)")
    print(release_gate.assert_version_bumped().message)


@pytest.mark.parametrize("name", ["defaults", "seed", "persistence", "prefixed", "egress"])
def test_upgrade_from_the_base_ref_is_safe(release_gate, values_sets, name):
    if not release_gate.base_ref:
        pytest.fail("no git base ref: the unit tier runs in a git checkout (give --base-ref)")
    release_gate.assert_upgrade_safe(values_sets[name])


def test_gate_names_a_changed_api_selector(default):
    """What the gate reports for the classic `cannot patch` upgrade: a selector label added to api."""
    changed = type(default)(type(r)(json.loads(json.dumps(r))) for r in default)
    changed.get("Deployment", "api")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/tier"] = "backend"
    [finding] = compare_manifests(default, changed)
    assert (finding.check, finding.ref, finding.path) == (
        "immutable", "Deployment/api", 'spec.selector.matchLabels["app.kubernetes.io/tier"]')


def test_gate_names_a_changed_mongo_volume_claim(render):
    """Changing the mongo StatefulSet's claim size is refused by the API: the gate says which field."""
    small = render({"mongo": {"persistence": {"enabled": True, "size": "1Gi"}}})
    large = render({"mongo": {"persistence": {"enabled": True, "size": "5Gi"}}})
    paths = [f.path for f in compare_manifests(small, large)]
    assert paths == ["spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage"], paths


# ---------------------------------------------------------------- the `helm test` hook pod

def test_hook_pod_is_a_helm_test_kept_for_its_logs(default):
    pod = default.get("Pod", "acceptance-test")
    assert pod.annotations["helm.sh/hook"] == "test"
    assert pod.annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert pod.pod_spec["restartPolicy"] == "Never" and pod.pod_spec["activeDeadlineSeconds"] > 0


def test_hook_pod_runs_the_acceptance_on_the_api_image(default):
    pod = default.get("Pod", "acceptance-test")
    c = pod.container("acceptance")
    assert c["image"] == default.get("Deployment", "api").container("api")["image"]
    assert c["command"] == ["python3", "-c"]
    code = compile(c["args"][0], "acceptance", "exec")     # valid Python
    assert {"connect", "urlopen"} <= set(code.co_names) | {n for const in code.co_consts
                                                           if hasattr(const, "co_names") for n in const.co_names}
    for step in ('"/wh"', '"/data"', '"webhook:"', '"DELETE"'):
        assert step in c["args"][0]


@pytest.mark.parametrize("values, api, ws", [
    ({}, "http://api:80", "ws://ws:80/ws"),
    ({"fullnameOverride": "prod", "ws": {"service": {"port": 8081}}}, "http://prod-api:80", "ws://prod-ws:8081/ws"),
])
def test_hook_pod_reaches_the_services_by_their_names(render, values, api, ws):
    m = render(values)
    env = m.one(kind="Pod").env("acceptance")
    assert (env["API_URL"], env["WS_URL"]) == (api, ws)
    assert m.get("Service", api.split("//")[1].split(":")[0])


def test_network_policies_admit_the_hook_pod(render):
    m = render({"networkPolicy": {"egress": {"enabled": True}}})
    pod_labels = m.get("Pod", "acceptance-test").labels
    for svc in ("api", "ws"):
        peer = m.get("NetworkPolicy", f"{svc}-from-tests")["spec"]["ingress"][0]["from"][0]["podSelector"]
        assert all(pod_labels.get(k) == v for k, v in peer["matchLabels"].items())
    egress = m.get("NetworkPolicy", "acceptance-test-egress")["spec"]["egress"]
    assert [(e["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], e["ports"][0]["port"])
            for e in egress] == [("api", 5000), ("ws", 8080)]
