"""nats-server runs from a chart-rendered config file (max_payload has no CLI flag),
and the api's payload limit is set next to it."""

import re

import pytest

NATS_CONF = "/etc/nats/nats.conf"


def nats_conf(m, name="nats-config") -> dict[str, str]:
    """The ConfigMap's nats.conf top-level scalars as {key: value} (comments and blocks skipped)."""
    text = m.get("ConfigMap", name)["data"]["nats.conf"]
    return dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))


def test_nats_runs_from_the_config_file(default):
    c = default.get("Deployment", "nats").container("nats")
    assert c["command"] == ["nats-server"]
    assert c["args"][:2] == ["-c", NATS_CONF]
    assert not {"-p", "-m", "--port", "--http_port"} & set(c["args"])


def test_extra_args_follow_the_config_file(render):
    c = render({"nats": {"extraArgs": ["-DV"]}}).get("Deployment", "nats").container("nats")
    assert c["args"] == ["-c", NATS_CONF, "-DV"]


def test_config_map_mounted_read_only(default):
    nats = default.get("Deployment", "nats")
    assert nats.volumes["config"] == {"name": "config", "configMap": {"name": "nats-config"}}
    mount = nats.volume_mounts("nats")["/etc/nats"]
    assert mount["name"] == "config" and mount["readOnly"] is True
    c = nats.container("nats")
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_config_map_defaults(default):
    cm = default.get("ConfigMap", "nats-config")
    assert cm.labels["app.kubernetes.io/component"] == "nats"
    assert cm.labels["app.kubernetes.io/managed-by"] == "Helm"
    assert "max_payload: 2MB" in cm["data"]["nats.conf"].splitlines()
    assert nats_conf(default) == {"port": "4222", "http_port": "8222", "max_payload": "2MB"}


def test_config_map_follows_values(render):
    m = render({"nats": {"maxPayload": "8MB", "containerPort": 4333, "monitorPort": 8333}})
    assert nats_conf(m) == {"port": "4333", "http_port": "8333", "max_payload": "8MB"}
    ports = {p["name"]: p["containerPort"] for p in m.get("Deployment", "nats").container("nats")["ports"]}
    assert ports == {"client": 4333, "monitor": 8333}


def test_config_map_name_is_prefixed(render):
    m = render({"fullnameOverride": "prod"})
    assert nats_conf(m, "prod-nats-config")["max_payload"] == "2MB"
    assert m.get("Deployment", "prod-nats").volumes["config"]["configMap"]["name"] == "prod-nats-config"


def test_checksum_rolls_the_pod_when_config_changes(default, render):
    def checksum(m):
        return m.get("Deployment", "nats").pod_annotations["checksum/config"]

    base = checksum(default)
    assert len(base) == 64
    assert checksum(render({"nats": {"maxPayload": "2MB"}})) == base
    assert checksum(render({"nats": {"maxPayload": "4MB"}})) != base


def test_checksum_keeps_user_pod_annotations(render):
    ann = render({"nats": {"podAnnotations": {"note": "n"}}}).get("Deployment", "nats").pod_annotations
    assert ann["note"] == "n" and "checksum/config" in ann


def test_api_max_payload_bytes_default(default):
    assert default.get("Deployment", "api").env("api")["MAX_PAYLOAD_BYTES"] == "1048576"


@pytest.mark.parametrize("value", [2000000, 64 * 1024 * 1024])
def test_api_max_payload_bytes_follows_value(render, value):
    env = render({"api": {"maxPayloadBytes": value}}).get("Deployment", "api").env("api")
    assert env["MAX_PAYLOAD_BYTES"] == str(value)


def test_max_payload_bytes_only_on_api(default):
    for svc in ("ws", "www"):
        assert "MAX_PAYLOAD_BYTES" not in default.get("Deployment", svc).env(svc)


def test_default_api_limit_fits_nats_limit_with_envelope(default):
    limit = int(default.get("Deployment", "api").env("api")["MAX_PAYLOAD_BYTES"])
    assert nats_conf(default)["max_payload"] == "2MB"
    assert limit + 1024 <= 2 * 1024 * 1024


def user_block(m, user: str) -> str:
    """The text of one user's entry in the authorization block."""
    text = m.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    match = re.search(r"\{\s*user: %s\n(.*?)\n      \}\n    \}" % user, text, flags=re.DOTALL)
    assert match, f"no user {user} in nats.conf:\n{text}"
    return match.group(1)


def test_no_anonymous_client_api_publishes_ws_subscribes(default):
    text = default.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "authorization {" in text and "no_auth_user" not in text
    api, ws = user_block(default, "api"), user_block(default, "ws")
    assert "password: $NATS_API_PASSWORD" in api and "password: $NATS_WS_PASSWORD" in ws
    assert 'publish: { allow: ["data.>", "webhooks.closed", "webhooks.resync"] }' in api
    assert 'subscribe: { deny: [">"] }' in api
    assert 'publish: { deny: [">"] }' in ws
    assert 'subscribe: { allow: ["data.*", "webhooks.closed", "webhooks.resync"] }' in ws


def test_passwords_come_from_the_secret_not_the_config(default, render):
    """The ConfigMap names environment variables only: explicit passwords never land in it."""
    m = render({"nats": {"auth": {"apiPassword": "api-pw-x", "wsPassword": "ws-pw-y"}}})
    text = m.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "api-pw-x" not in text and "ws-pw-y" not in text
    assert text == default.get("ConfigMap", "nats-config")["data"]["nats.conf"]


def test_auth_disabled_renders_no_users(render):
    m = render({"nats": {"auth": {"enabled": False}}})
    assert "authorization" not in m.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    assert not any(k.startswith("NATS_") for k in m.get("Deployment", "nats").env("nats"))
