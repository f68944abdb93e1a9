"""The MongoDB URL Secret, its wiring into api/ws, and its stability across upgrades.

Note: the chart reuses an existing Secret's value through `lookup`. `helm
template` has no cluster, so `lookup` returns nothing here; these tests cover
the template logic (explicit URL wins, else generated, deterministic and stable
across renders) and the e2e tier covers the reuse on a real upgrade.
"""

import base64

import pytest

URL_DEFAULT = "mongodb://mongo:27017/webhooks"


def secret_url(m, name="mongo", key="mongodb_url"):
    return base64.b64decode(m.get("Secret", name)["data"][key]).decode()


def test_generated_url_points_at_in_chart_mongo(default):
    assert secret_url(default) == URL_DEFAULT


def test_secret_is_opaque_and_plain_named(default):
    s = default.get("Secret", "mongo")
    assert s["type"] == "Opaque" and list(s["data"]) == ["mongodb_url"]
    assert "helm.sh/resource-policy" not in s.annotations


def test_explicit_url(render):
    assert secret_url(render({"mongo": {"url": "mongodb://u:p@db:27017/other"}})) == "mongodb://u:p@db:27017/other"


def test_database_name(render):
    assert secret_url(render({"mongo": {"database": "wh2"}})) == "mongodb://mongo:27017/wh2"


def test_prefixed_url(render):
    assert secret_url(render({"fullnameOverride": "prod"}), "prod-mongo") == "mongodb://prod-mongo:27017/webhooks"


@pytest.mark.parametrize("svc", ["api", "ws"])
def test_apps_get_url_from_secret_and_nats_url(default, svc):
    env = default.get("Deployment", svc).env(svc)
    assert env["MONGODB_URL"] == {"secretKeyRef": {"name": "mongo", "key": "mongodb_url"}}
    assert env["NATS_URL"] == "nats://nats:4222"


@pytest.mark.parametrize("svc", ["www", "nats"])
def test_other_services_get_no_database_url(default, svc):
    assert "MONGODB_URL" not in default.get("Deployment", svc).env(svc)


def test_existing_secret(render):
    m = render({"mongo": {"existingSecret": "my-db", "secretKey": "uri"}})
    assert not m.of_kind("Secret")
    assert m.get("Deployment", "api").env("api")["MONGODB_URL"] == {"secretKeyRef": {"name": "my-db", "key": "uri"}}


def test_mongo_disabled_without_url_fails(render_fails):
    render_fails({"mongo": {"enabled": False}}, match="mongo.url or mongo.existingSecret")


def test_url_change_rolls_the_pods(default, render):
    before = default.get("Deployment", "api").pod_annotations["checksum/mongodb-url"]
    after = render({"mongo": {"url": "mongodb://x:27017/y"}}).get("Deployment", "api").pod_annotations["checksum/mongodb-url"]
    assert before != after


UPGRADE = {"api": {"tag": "v2.0.0", "replicas": 3}, "ws": {"tag": "v2.0.0"}, "www": {"tag": "v2.0.0"},
           "mongo": {"tag": "8.0.4"}, "nats": {"tag": "2.11.10-alpine"}, "domain": "other.example"}


def test_upgrade_keeps_secret_name_key_and_value(default, render):
    upgraded = render(UPGRADE)
    assert secret_url(upgraded) == secret_url(default)
    assert default.get("Secret", "mongo")["data"] == upgraded.get("Secret", "mongo")["data"]


def test_upgrade_never_changes_selectors(default, render):
    upgraded = render(UPGRADE)
    for w in default.workloads:
        if w.kind == "Pod":  # the `helm test` hook pod: no selector, recreated by every `helm test`
            continue
        assert w.path("spec.selector") == upgraded.get(w.kind, w.name).path("spec.selector")
    for s in default.of_kind("Service"):
        assert s["spec"]["selector"] == upgraded.get("Service", s.name)["spec"]["selector"]


def test_selectors_use_only_stable_labels(default):
    stable = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
    for w in default.workloads:
        if w.kind == "Pod":  # the `helm test` hook pod has no selector
            continue
        assert set(w.path("spec.selector.matchLabels")) == stable
    for s in default.of_kind("Service"):
        assert set(s["spec"]["selector"]) == stable


def test_render_is_deterministic(render):
    a = render({"domain": "a.example"}, cache=False)
    b = render({"domain": "a.example"}, cache=False)
    assert a.raw == b.raw
