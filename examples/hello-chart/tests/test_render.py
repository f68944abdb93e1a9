"""Render tier of hello-chart: helm template only, no cluster (chartest fixtures and public API only)."""

import pytest

ALL_ON = {"ingress": {"enabled": True, "className": "web"}, "autoscaling": {"enabled": True},
          "podDisruptionBudget": {"enabled": True}}


def test_default_render(render):
    assert sorted(render().refs()) == ["ConfigMap/hello-hello-chart-content", "Deployment/hello-hello-chart",
                                       "Greeting/hello-hello-chart", "Service/hello-hello-chart"]


def test_optional_resources_follow_their_switches(render):
    kinds = {r.kind for r in render(ALL_ON)}
    assert {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["default", "all-on"])
def test_valid_against_kubernetes_and_the_charts_crd(render, validate_schemas, values):
    validate_schemas(render(values))


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["default", "all-on"])
def test_restricted_pod_security(render, assert_restricted, values):
    assert_restricted(render(values))


def test_service_selects_the_pods_and_targets_their_port(render):
    m = render()
    service, deployment = m.get("Service", "hello-hello-chart"), m.get("Deployment", "hello-hello-chart")
    pod_labels = deployment.path("spec.template.metadata.labels")
    assert service.path("spec.selector").items() <= pod_labels.items()
    assert service.path("spec.ports[name=http].targetPort") == "http"
    assert deployment.path("spec.template.spec.containers[name=web].ports[name=http].containerPort") == 8080


def test_ingress_routes_to_the_service(render):
    ingress = render(ALL_ON).get("Ingress", "hello-hello-chart")
    assert ingress.path("spec.ingressClassName") == "web"
    backend = ingress.path("spec.rules[0].http.paths[0].backend.service")
    assert backend == {"name": "hello-hello-chart", "port": {"name": "http"}}


def test_autoscaling_owns_the_replica_count(render):
    m = render(ALL_ON)
    assert m.get("Deployment", "hello-hello-chart").path("spec.replicas", None) is None
    hpa = m.get("HorizontalPodAutoscaler", "hello-hello-chart")
    assert (hpa.path("spec.minReplicas"), hpa.path("spec.maxReplicas")) == (2, 5)
    assert hpa.path("spec.scaleTargetRef.name") == "hello-hello-chart"


def test_pdb_selects_the_pods(render):
    m = render(ALL_ON)
    selector = m.get("PodDisruptionBudget", "hello-hello-chart").path("spec.selector.matchLabels")
    assert selector.items() <= m.get("Deployment", "hello-hello-chart").path(
        "spec.template.metadata.labels").items()


def test_greeting_records_what_is_served(render):
    m = render({"greeting": "Grüß dich", "language": "de"})
    assert "<p>Grüß dich</p>" in m.get("ConfigMap", "hello-hello-chart-content").path('data["index.html"]')
    greeting = m.get("Greeting", "hello-hello-chart")
    assert greeting.path("spec") == {"message": "Grüß dich", "language": "de", "servedBy": "hello-hello-chart"}


def test_new_content_rolls_the_pods(render):
    def checksum(values):
        return render(values).get("Deployment", "hello-hello-chart").path(
            'spec.template.metadata.annotations["checksum/content"]')

    assert checksum({"greeting": "one"}) != checksum({"greeting": "two"})


@pytest.mark.parametrize("values,match", [
    ({"containerPort": 80}, "containerPort"),
    ({"language": "xx"}, "language"),
    ({"replicas": 2}, "replicas"),
    ({"autoscaling": {"enabled": True, "minReplicas": 6, "maxReplicas": 5}}, "minReplicas must not exceed"),
])
def test_bad_values_are_refused(render_fails, values, match):
    render_fails(values, match=match)


def test_deterministic_and_snapshot(render, assert_deterministic, snapshot):
    assert_deterministic(ALL_ON)
    snapshot.assert_match(render(ALL_ON), "all-on")
