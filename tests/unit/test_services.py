"""Services, names, ports and probes."""

import pytest

from chart_data import CONTAINER_PORT, SERVICE_PORT, SERVICES, workload


@pytest.mark.parametrize("svc", SERVICES)
def test_service_port_targets_container_port(default, svc):
    s = default.get("Service", svc)
    [port] = s["spec"]["ports"]
    assert port["port"] == SERVICE_PORT[svc]
    c = workload(default, svc).container(svc)
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert named[port["targetPort"]] == CONTAINER_PORT[svc]


@pytest.mark.parametrize("svc", SERVICES)
def test_service_selects_exactly_its_pods(default, svc):
    sel = default.get("Service", svc)["spec"]["selector"]
    matching = [w.name for w in default.workloads if all(w.pod_labels.get(k) == v for k, v in sel.items())]
    assert matching == [svc]


def test_plain_seed_service_names(default):
    assert sorted(s.name for s in default.of_kind("Service")) == sorted(SERVICES)


def test_fullname_override_prefixes_every_name(render):
    m = render({"fullnameOverride": "prod"})
    assert sorted(s.name for s in m.of_kind("Service")) == sorted(f"prod-{s}" for s in SERVICES)
    assert all(r.name.startswith("prod-") for r in m)
    api = m.get("Deployment", "prod-api")
    assert api.env("api")["NATS_URL"] == "nats://prod-nats:4222"
    assert api.env("api")["MONGODB_URL"]["secretKeyRef"]["name"] == "prod-mongo"
    route = m.get("IngressRoute", "prod-webhook")
    assert [r["services"][0]["name"] for r in route["spec"]["routes"]] == ["prod-api", "prod-ws", "prod-www"]


PROBES = {
    "api": ({"httpGet": {"path": "/app/healthz", "port": "http"}}, {"httpGet": {"path": "/app/readyz", "port": "http"}}),
    "ws": ({"httpGet": {"path": "/healthz", "port": "http"}}, {"httpGet": {"path": "/readyz", "port": "http"}}),
    "www": ({"httpGet": {"path": "/healthz", "port": "http"}}, {"httpGet": {"path": "/healthz", "port": "http"}}),
    "mongo": ({"tcpSocket": {"port": "mongo"}}, {"tcpSocket": {"port": "mongo"}}),
    "nats": ({"httpGet": {"path": "/healthz", "port": "monitor"}}, {"httpGet": {"path": "/healthz", "port": "monitor"}}),
}
PROBE_PORTS = {"http": None, "mongo": 27017, "monitor": 8222}


@pytest.mark.parametrize("svc", SERVICES)
def test_probes(default, svc):
    c = workload(default, svc).container(svc)
    live, ready = PROBES[svc]
    for probe, want in ((c["livenessProbe"], live), (c["readinessProbe"], ready)):
        action = next(k for k in ("httpGet", "tcpSocket") if k in probe)
        assert {action: probe[action]} == want
        named = {p["name"]: p["containerPort"] for p in c["ports"]}
        port = probe[action]["port"]
        assert port in named
        assert named[port] == (PROBE_PORTS[port] or {"api": 5000, "ws": 8080, "www": 3000}[svc])


@pytest.mark.parametrize("svc", SERVICES)
def test_probes_can_be_disabled(render, svc):
    off = {"livenessProbe": {"enabled": False}, "readinessProbe": {"enabled": False}}
    c = workload(render({s: off for s in SERVICES}), svc).container()
    assert "livenessProbe" not in c and "readinessProbe" not in c


@pytest.mark.parametrize("svc", SERVICES)
def test_resources_requests_equal_limits(default, svc):
    res = workload(default, svc).container(svc)["resources"]
    assert res["requests"] == res["limits"]
    assert set(res["limits"]) >= {"cpu", "memory"}


@pytest.mark.parametrize("svc", SERVICES)
def test_scheduling_and_pod_metadata_overrides(render, svc):
    # every service gets its own values in one render: a value wired to the wrong service shows
    m = render({s: {"nodeSelector": {"disk": s}, "tolerations": [{"key": s, "operator": "Exists"}],
                    "affinity": {"podAntiAffinity": {"x": s}}, "podAnnotations": {"note": s},
                    "podLabels": {"tier": s}, "extraEnv": [{"name": "FOO", "value": s}]}
                for s in SERVICES})
    w = workload(m, svc)
    spec = w.pod_spec
    assert spec["nodeSelector"] == {"disk": svc}
    assert spec["tolerations"] == [{"key": svc, "operator": "Exists"}]
    assert spec["affinity"] == {"podAntiAffinity": {"x": svc}}
    assert w.pod_annotations["note"] == svc and w.pod_labels["tier"] == svc
    assert w.env(svc)["FOO"] == svc
    assert "tier" not in w.path("spec.selector.matchLabels")


@pytest.mark.parametrize("svc", SERVICES)
def test_service_account(default, render, svc):
    sa = default.get("ServiceAccount", svc)
    assert sa["automountServiceAccountToken"] is False
    assert workload(default, svc).pod_spec["serviceAccountName"] == svc
    m = render({s: {"serviceAccount": {"create": False, "name": f"shared-{s}"}} for s in SERVICES})
    assert m.maybe("ServiceAccount", svc) is None
    assert workload(m, svc).pod_spec["serviceAccountName"] == f"shared-{svc}"


def test_mongo_storage_default_is_a_volume(default):
    """Persistence is on by default: a mongo pod restart must not erase every tenant's data."""
    sts = default.get("StatefulSet", "mongo")
    assert "emptyDir" not in sts.volumes["data"]
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    assert sts.volume_mounts("mongo")["/data/db"]["name"] == "data"
    assert sts["spec"]["serviceName"] == "mongo"


def test_mongo_storage_without_persistence_is_emptydir(render):
    sts = render({"mongo": {"persistence": {"enabled": False}}}).get("StatefulSet", "mongo")
    assert sts.volumes["data"] == {"name": "data", "emptyDir": {}}
    assert "volumeClaimTemplates" not in sts["spec"]


def test_mongo_persistence(render):
    sts = render({"mongo": {"persistence": {"enabled": True, "size": "3Gi", "storageClass": "fast"},
                            "dataPath": "/var/lib/db"}}).get("StatefulSet", "mongo")
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "3Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert "emptyDir" not in sts.volumes["data"]
    assert sts.volume_mounts("mongo")["/var/lib/db"]["name"] == "data"


def test_mongo_args_env_and_user_for_ferretdb(render):
    sts = render({"mongo": {"args": ["--handler=sqlite"], "extraEnv": [{"name": "A", "value": "1"}],
                            "podSecurityContext": {"runAsUser": 10001}}}).get("StatefulSet", "mongo")
    c = sts.container("mongo")
    assert c["args"] == ["--handler=sqlite"]
    assert sts.env("mongo")["A"] == "1"
    assert sts.pod_spec["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"]["runAsUser"] == 10001


def test_mongo_without_auth_gets_only_the_extra_env(render):
    """With authentication off the chart sets no variable of its own on mongo: extraEnv is all."""
    sts = render({"mongo": {"auth": {"enabled": False},
                            "extraEnv": [{"name": "A", "value": "1"}]}}).get("StatefulSet", "mongo")
    assert sts.container("mongo")["env"] == [{"name": "A", "value": "1"}]


def test_mongo_default_user_is_999(default):
    sts = default.get("StatefulSet", "mongo")
    assert sts.pod_spec["securityContext"]["runAsUser"] == 999
    assert sts.pod_spec["securityContext"]["fsGroup"] == 999


def test_mongo_disabled_renders_no_mongo(render):
    m = render({"mongo": {"enabled": False, "url": "mongodb://ext:27017/x"}})
    assert m.maybe("StatefulSet", "mongo") is None and m.maybe("Service", "mongo") is None
    assert m.maybe("NetworkPolicy", "mongo-from-apps") is None


def test_name_override_renames_the_app_label_not_the_resources(render):
    m = render({"nameOverride": "hooks"})
    for svc in SERVICES:
        w = workload(m, svc)
        assert w.name == svc
        assert w["metadata"]["labels"]["app.kubernetes.io/name"] == "hooks"
        assert w.path("spec.selector.matchLabels")["app.kubernetes.io/name"] == "hooks"


def test_service_account_created_under_a_given_name(render):
    m = render({"api": {"serviceAccount": {"create": True, "name": "api-runner"}}})
    assert m.get("ServiceAccount", "api-runner")["automountServiceAccountToken"] is False
    assert m.maybe("ServiceAccount", "api") is None
    assert workload(m, "api").pod_spec["serviceAccountName"] == "api-runner"


def test_no_service_account_and_no_name_runs_as_default(render):
    m = render({"ws": {"serviceAccount": {"create": False, "name": ""}}})
    assert m.maybe("ServiceAccount", "ws") is None
    assert workload(m, "ws").pod_spec["serviceAccountName"] == "default"


def test_autoscaling_on_memory_only(render):
    m = render({"api": {"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None,
                                        "targetMemoryUtilizationPercentage": 75}}})
    metrics = m.get("HorizontalPodAutoscaler", "api")["spec"]["metrics"]
    assert [(x["resource"]["name"], x["resource"]["target"]["averageUtilization"]) for x in metrics] == [("memory", 75)]
