"""nats-server runs from a chart-rendered config file (max_payload has no CLI flag),
and the api's payload limit is set next to it."""

import pytest

NATS_CONF = "/etc/nats/nats.conf"


def nats_conf(m, name="nats-config") -> dict[str, str]:
    """The ConfigMap's nats.conf as {key: value} (comments skipped)."""
    text = m.get("ConfigMap", name)["data"]["nats.conf"]
    pairs = (line.split(":", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


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
