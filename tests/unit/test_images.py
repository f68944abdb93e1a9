"""Images, tags and replicas of every service (seed values and overrides)."""

import pytest

from chart_data import SERVICES, WORKLOAD_KIND, workload

DEFAULT_IMAGES = {
    "api": "registry.gitlab.com/web-hook/api:v1.0.33",
    "ws": "registry.gitlab.com/web-hook/ws:v1.0.7",
    "www": "registry.gitlab.com/web-hook/www:v1.0.33",
    "nats": "docker.io/library/nats:2.11.9-alpine",
    "mongo": "docker.io/library/mongo:8.0",
}
SEED_IMAGES = {
    "api": "registry.gitlab.com/web-hook/api:v1.0.33",
    "ws": "registry.gitlab.com/web-hook/ws:v1.0.7",
    "www": "registry.gitlab.com/web-hook/www:v1.0.33",
    "nats": "docker.io/library/nats:2.8.4-alpine3.15",
    "mongo": "docker.io/library/mongo:4.4",
}


@pytest.mark.parametrize("svc", SERVICES)
def test_default_image(default, svc):
    assert workload(default, svc).container(svc)["image"] == DEFAULT_IMAGES[svc]


@pytest.mark.parametrize("svc", SERVICES)
def test_seed_values_image(seed, svc):
    assert workload(seed, svc).container(svc)["image"] == SEED_IMAGES[svc]


# Overrides give every service its own value in ONE values set: one helm call
# serves all five parametrized cases, and a value wired to the wrong service
# shows up as a mismatch.
TAGS = {svc: f"t-{svc}-{i}" for i, svc in enumerate(SERVICES, 1)}
REPLICAS = {svc: i for i, svc in enumerate(SERVICES, 2)}
REGISTRY_OVERRIDES = {svc: {"image": {"registry": "reg.example:5000", "repository": f"team/{svc}-x",
                                      "pullPolicy": "Always"}, "tag": f"1.2.{i}"}
                      for i, svc in enumerate(SERVICES)}


@pytest.mark.parametrize("svc", SERVICES)
def test_tag_override(render, svc):
    m = render({s: {"tag": tag} for s, tag in TAGS.items()})
    assert workload(m, svc).container(svc)["image"].endswith(f":{TAGS[svc]}")


def test_one_override_leaves_other_services_alone(render):
    m = render({"api": {"tag": "t-override-1"}})
    assert workload(m, "api").container("api")["image"].endswith(":t-override-1")
    for other in (s for s in SERVICES if s != "api"):
        assert workload(m, other).container(other)["image"] == DEFAULT_IMAGES[other]


@pytest.mark.parametrize("svc", SERVICES)
def test_registry_and_repository_override(render, svc):
    m = render(REGISTRY_OVERRIDES)
    c = workload(m, svc).container(svc)
    assert c["image"] == f"reg.example:5000/team/{svc}-x:{REGISTRY_OVERRIDES[svc]['tag']}"
    assert c["imagePullPolicy"] == "Always"


@pytest.mark.parametrize("svc", SERVICES)
def test_global_registry_overrides_every_image(render, svc):
    m = render({"global": {"imageRegistry": "mirror.local"}})
    repo = DEFAULT_IMAGES[svc].split("/", 1)[1]
    assert workload(m, svc).container(svc)["image"] == f"mirror.local/{repo}"


def test_empty_registry_gives_bare_repository(render):
    m = render({"mongo": {"image": {"registry": "", "repository": "ferretdb"}, "tag": "v1.24.2"}})
    assert workload(m, "mongo").container("mongo")["image"] == "ferretdb:v1.24.2"


@pytest.mark.parametrize("svc", SERVICES)
def test_version_label_follows_tag(render, svc):
    w = workload(render({s: {"tag": tag} for s, tag in TAGS.items()}), svc)
    assert w.labels["app.kubernetes.io/version"] == TAGS[svc]
    assert w.pod_labels["app.kubernetes.io/version"] == TAGS[svc]


def test_numeric_seed_tag_is_kept_verbatim(seed):
    # the seed wrote `mongo: {tag: 4.4}` (a YAML float): the image must say 4.4, not 4.4e+00
    assert workload(seed, "mongo").container()["image"].endswith("mongo:4.4")


@pytest.mark.parametrize("svc", SERVICES)
def test_default_replicas_is_one(default, svc):
    assert workload(default, svc)["spec"]["replicas"] == 1


@pytest.mark.parametrize("svc", SERVICES)
def test_replicas_override(render, svc):
    m = render({s: {"replicas": n} for s, n in REPLICAS.items()})
    assert workload(m, svc)["spec"]["replicas"] == REPLICAS[svc]


@pytest.mark.parametrize("svc", SERVICES)
def test_null_replicas_defaults_to_one_like_the_seed(render, svc):
    assert workload(render({s: {"replicas": None} for s in SERVICES}), svc)["spec"]["replicas"] == 1


@pytest.mark.parametrize("svc", ["api", "ws", "www"])
def test_autoscaling_drops_fixed_replicas_and_renders_hpa(render, svc):
    m = render({svc: {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 7}}})
    assert "replicas" not in workload(m, svc)["spec"]
    hpa = m.get("HorizontalPodAutoscaler", svc)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa.path("spec.scaleTargetRef") == {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc}
    assert (hpa.path("spec.minReplicas"), hpa.path("spec.maxReplicas")) == (2, 7)
    assert hpa.path("spec.metrics[0].resource.name") == "cpu"


@pytest.mark.parametrize("svc", ["api", "ws", "www"])
def test_pdb(render, default, svc):
    assert not default.of_kind("PodDisruptionBudget")
    pdb = render({svc: {"pdb": {"enabled": True, "maxUnavailable": "50%"}}}).get("PodDisruptionBudget", svc)
    assert pdb.path("spec.maxUnavailable") == "50%" and "minAvailable" not in pdb["spec"]
    assert pdb.path("spec.selector.matchLabels")["app.kubernetes.io/component"] == svc


def test_workload_kinds(default):
    # plus the `helm test` hook pod (templates/tests), which helm creates only on `helm test`
    assert {w.name: w.kind for w in default.workloads} == {**WORKLOAD_KIND, "acceptance-test": "Pod"}


def test_nats_command_and_ports(default):
    c = default.get("Deployment", "nats").container("nats")
    assert c["command"] == ["nats-server"]
    assert c["args"] == ["-c", "/etc/nats/nats.conf"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"client": 4222, "monitor": 8222}
