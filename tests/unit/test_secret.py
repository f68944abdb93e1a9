"""Credentials: the generated Secrets, their wiring into every pod, and what stays stable.

The chart generates the mongo password and the NATS users' passwords at install
and reads them back from the release's Secrets (`lookup`) on every upgrade.
`helm template` has no cluster, so `lookup` returns nothing here and every render
draws new passwords: these tests cover the template logic (explicit values win,
the shapes, the wiring, nothing but the Secrets depends on a generated value); the
e2e tier (tests/e2e/test_upgrade.py) covers the reuse on a real upgrade.
"""

import base64
import re
from urllib.parse import urlsplit

import pytest

GENERATED = re.compile(r"^[A-Za-z0-9]{32}$")


def secret_data(m, name="mongo") -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in m.get("Secret", name)["data"].items()}


def secret_url(m, name="mongo", key="mongodb_url"):
    return secret_data(m, name)[key]


def test_generated_url_carries_the_generated_user(default):
    data = secret_data(default)
    assert set(data) == {"mongodb_url", "mongo_username", "mongo_password"}
    assert data["mongo_username"] == "webhooks" and GENERATED.match(data["mongo_password"])
    url = urlsplit(data["mongodb_url"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("mongodb", "mongo", 27017, "/webhooks")
    assert (url.username, url.password, url.query) == ("webhooks", data["mongo_password"], "authSource=admin")


def test_secret_is_opaque_and_plain_named(default):
    s = default.get("Secret", "mongo")
    assert s["type"] == "Opaque"
    assert "helm.sh/resource-policy" not in s.annotations


def test_official_mongo_gets_its_root_user_from_the_secret(default):
    env = default.get("StatefulSet", "mongo").env("mongo")
    assert env["MONGO_INITDB_ROOT_USERNAME"] == "webhooks"
    assert env["MONGO_INITDB_ROOT_PASSWORD"] == {"secretKeyRef": {"name": "mongo", "key": "mongo_password"}}
    assert not any(k.startswith("FERRETDB_") for k in env)


def test_ferretdb_gets_scram_auth_and_its_setup_user(render):
    env = render({"mongo": {"flavor": "ferretdb"}}).get("StatefulSet", "mongo").env("mongo")
    assert env["FERRETDB_TEST_ENABLE_NEW_AUTH"] == "true"
    assert env["FERRETDB_SETUP_DATABASE"] == "admin" and env["FERRETDB_SETUP_USERNAME"] == "webhooks"
    assert env["FERRETDB_SETUP_PASSWORD"] == {"secretKeyRef": {"name": "mongo", "key": "mongo_password"}}
    assert not any(k.startswith("MONGO_INITDB") for k in env)


def test_ferretdb_keeps_its_sqlite_files_in_the_data_volume_without_an_fsync_per_commit(render):
    """The data path is the volume's, WAL (FerretDB's default) with synchronous=NORMAL."""
    env = render({"mongo": {"flavor": "ferretdb"}}).get("StatefulSet", "mongo").env("mongo")
    assert env["FERRETDB_SQLITE_URL"] == "file:/data/db/?_pragma=synchronous(normal)"
    env = render({"mongo": {"flavor": "ferretdb", "dataPath": "/state/"}}).get("StatefulSet", "mongo").env("mongo")
    assert env["FERRETDB_SQLITE_URL"] == "file:/state/?_pragma=synchronous(normal)"


def test_explicit_password_and_user(render):
    m = render({"mongo": {"auth": {"username": "app", "password": "s3cret-pw", "authSource": "webhooks"}}})
    assert secret_url(m) == "mongodb://app:s3cret-pw@mongo:27017/webhooks?authSource=webhooks"
    assert secret_data(m)["mongo_password"] == "s3cret-pw"


def test_auth_disabled_gives_the_plain_url_and_no_user(render):
    m = render({"mongo": {"auth": {"enabled": False}}, "nats": {"auth": {"enabled": False}}})
    assert secret_data(m) == {"mongodb_url": "mongodb://mongo:27017/webhooks"}
    assert not any(k.startswith("MONGO_INITDB") for k in m.get("StatefulSet", "mongo").env("mongo"))
    assert not [s for s in m.of_kind("Secret") if s.name == "nats-credentials"]
    assert "NATS_USER" not in m.get("Deployment", "api").env("api")


def test_explicit_url(render):
    m = render({"mongo": {"url": "mongodb://u:p@db:27017/other"}})
    assert secret_data(m) == {"mongodb_url": "mongodb://u:p@db:27017/other"}


def test_database_name(render):
    assert urlsplit(secret_url(render({"mongo": {"database": "wh2"}}))).path == "/wh2"


def test_prefixed_url(render):
    m = render({"fullnameOverride": "prod"})
    assert urlsplit(secret_url(m, "prod-mongo")).hostname == "prod-mongo"
    assert m.get("Deployment", "prod-api").env("api")["NATS_PASSWORD"]["secretKeyRef"]["name"] == "prod-nats-credentials"


@pytest.mark.parametrize("svc", ["api", "ws"])
def test_apps_get_url_and_their_own_nats_user_from_secrets(default, svc):
    env = default.get("Deployment", svc).env(svc)
    assert env["MONGODB_URL"] == {"secretKeyRef": {"name": "mongo", "key": "mongodb_url"}}
    assert env["NATS_URL"] == "nats://nats:4222"
    assert env["NATS_USER"] == svc
    assert env["NATS_PASSWORD"] == {"secretKeyRef": {"name": "nats-credentials", "key": f"{svc}_password"}}


def test_nats_passwords_generated_apart(default):
    data = secret_data(default, "nats-credentials")
    assert set(data) == {"api_password", "ws_password"}
    assert all(GENERATED.match(v) for v in data.values()) and data["api_password"] != data["ws_password"]
    env = default.get("Deployment", "nats").env("nats")
    for user in ("api", "ws"):
        var = f"NATS_{user.upper()}_PASSWORD"
        assert env[f"{var}_RAW"] == {"secretKeyRef": {"name": "nats-credentials", "key": f"{user}_password"}}
        # quoted by the kubelet, so nats.conf reads a string whatever the password looks like
        assert env[var] == f'"$({var}_RAW)"'


def test_explicit_nats_passwords(render):
    m = render({"nats": {"auth": {"apiPassword": "a-pw", "wsPassword": "w-pw"}}})
    assert secret_data(m, "nats-credentials") == {"api_password": "a-pw", "ws_password": "w-pw"}


@pytest.mark.parametrize("svc", ["www", "nats"])
def test_other_services_get_no_database_url(default, svc):
    assert "MONGODB_URL" not in default.get("Deployment", svc).env(svc)


def test_no_credential_in_a_configmap_or_a_pod_spec(default):
    passwords = set(secret_data(default, "nats-credentials").values()) | {secret_data(default)["mongo_password"]}
    for r in default:
        if r.kind != "Secret":
            assert not any(p in str(dict(r)) for p in passwords), r.name


def test_existing_secret(render):
    m = render({"mongo": {"existingSecret": "my-db", "secretKey": "uri"}})
    assert not [s for s in m.of_kind("Secret") if s.name == "mongo"]
    assert m.get("Deployment", "api").env("api")["MONGODB_URL"] == {"secretKeyRef": {"name": "my-db", "key": "uri"}}
    assert not any(k.startswith("MONGO_INITDB") for k in m.get("StatefulSet", "mongo").env("mongo"))


def test_mongo_disabled_without_url_fails(render_fails):
    render_fails({"mongo": {"enabled": False}}, match="mongo.url or mongo.existingSecret")


def test_credential_change_rolls_the_pods(default, render):
    before = default.get("Deployment", "api").pod_annotations["checksum/mongodb-url"]
    for values in ({"mongo": {"url": "mongodb://x:27017/y"}}, {"mongo": {"auth": {"password": "other"}}},
                   {"nats": {"auth": {"apiPassword": "other"}}}):
        assert render(values).get("Deployment", "api").pod_annotations["checksum/mongodb-url"] != before


UPGRADE = {"api": {"tag": "v2.0.0", "replicas": 3}, "ws": {"tag": "v2.0.0"}, "www": {"tag": "v2.0.0"},
           "mongo": {"tag": "8.0.4"}, "nats": {"tag": "2.11.10-alpine"}, "domain": "other.example"}


def test_upgrade_keeps_secret_names_and_keys(default, render):
    upgraded = render(UPGRADE)
    for name in ("mongo", "nats-credentials"):
        assert set(secret_data(upgraded, name)) == set(secret_data(default, name))


def test_generated_values_reach_nothing_but_the_secrets(render):
    """Two renders draw different passwords, and differ in the Secrets' data only: no pod
    template (checksums included) depends on a generated value, so an upgrade that reads the
    Secrets back rolls nothing."""
    a = render({"domain": "a.example"}, cache=False)
    b = render({"domain": "a.example"}, cache=False)
    assert secret_data(a)["mongo_password"] != secret_data(b)["mongo_password"]
    strip = lambda m: [r for r in m if r.kind != "Secret"]  # noqa: E731
    assert [dict(x) for x in strip(a)] == [dict(x) for x in strip(b)]
    for name in ("mongo", "nats-credentials"):
        assert a.get("Secret", name)["metadata"] == b.get("Secret", name)["metadata"]


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
