"""values.yaml documentation and values.schema.json: bad values are rejected
by `helm template` with a message naming the key."""

import json
import re
import subprocess
import sys

import pytest
import yaml

BAD_VALUES = [
    # (values, the key the message must name, a fragment of the message)
    ({"api": {"replicas": "three"}}, "/api/replicas", "want null or integer"),
    ({"ws": {"replicas": -1}}, "/ws/replicas", "minimum"),
    ({"api": {"tagg": "v1"}}, "/api", "'tagg' not allowed"),
    ({"unknownTop": 1}, "", "'unknownTop' not allowed"),
    ({"www": {"image": {"pullPolicy": "Sometimes"}}}, "/www/image/pullPolicy", ""),
    ({"domain": "has space.example"}, "/domain", ""),
    ({"domain": ""}, "/domain", ""),
    ({"tls": {"enabled": "yes"}}, "/tls/enabled", "want boolean"),
    ({"mongo": {"persistence": {"size": "lots"}}}, "/mongo/persistence/size", ""),
    ({"mongo": {"url": "postgres://db"}}, "/mongo/url", ""),
    ({"nats": {"containerPort": 70000}}, "/nats/containerPort", "maximum"),
    ({"api": {"service": {"type": "Ingress"}}}, "/api/service/type", ""),
    ({"api": {"resources": {"limits": {"gpu": 1}}}}, "/api/resources/limits", "'gpu' not allowed"),
    ({"networkPolicy": {"enabled": "true"}}, "/networkPolicy/enabled", "want boolean"),
    ({"networkPolicy": {"ingressPodSelector": {"matchLabel": {}}}}, "/networkPolicy/ingressPodSelector",
     "'matchLabel' not allowed"),
    ({"ws": {"extraEnv": [{"value": "x"}]}}, "/ws/extraEnv/0", "name"),
    ({"www": {"autoscaling": {"maxReplicas": 0}}}, "/www/autoscaling/maxReplicas", "minimum"),
    ({"fullnameOverride": "Bad_Name"}, "/fullnameOverride", ""),
    ({"global": {"imageRegistry": 5}}, "/global/imageRegistry", "want string"),
    ({"mongo": {"podSecurityContext": {"runAsUser": "root"}}}, "/mongo/podSecurityContext/runAsUser", ""),
    ({"api": {"securityContext": {"capabilities": {"drop": "ALL"}}}}, "/api/securityContext/capabilities/drop", ""),
    ({"ingress": {"className": ["traefik"]}}, "/ingress/className", "want string"),
    ({"api": {"livenessProbe": {"path": "no-slash", "enabled": True}}}, "/api/livenessProbe/path", ""),
    ({"nats": {"tag": ""}}, "/nats/tag", ""),
    ({"nats": {"maxPayload": 2097152}}, "/nats/maxPayload", "want string"),
    ({"nats": {"maxPayload": "2MB\nhttp_port: 1"}}, "/nats/maxPayload", ""),
    ({"api": {"maxPayloadBytes": "1MiB"}}, "/api/maxPayloadBytes", "want integer"),
    ({"api": {"maxPayloadBytes": 0}}, "/api/maxPayloadBytes", "minimum"),
    ({"api": {"terminationGracePeriodSeconds": "30s"}}, "/api/terminationGracePeriodSeconds", "want integer"),
    ({"mongo": {"terminationGracePeriodSeconds": -1}}, "/mongo/terminationGracePeriodSeconds", "minimum"),
    ({"ws": {"lifecycle": {"preStopSleepSeconds": "5"}}}, "/ws/lifecycle/preStopSleepSeconds", "want integer"),
    ({"nats": {"lifecycle": {"preStopSleepSeconds": -5}}}, "/nats/lifecycle/preStopSleepSeconds", "minimum"),
    ({"www": {"lifecycle": {"preStop": {"exec": {}}}}}, "/www/lifecycle", "'preStop' not allowed"),
    ({"api": {"updateStrategy": {"type": "Rolling"}}}, "/api/updateStrategy/type", ""),
    ({"ws": {"updateStrategy": "RollingUpdate"}}, "/ws/updateStrategy", "want object"),
    ({"www": {"updateStrategy": {"rollingUpdate": {"maxSurge": "lots"}}}},
     "/www/updateStrategy/rollingUpdate/maxSurge", "does not match pattern"),
    ({"api": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": -1}}}},
     "/api/updateStrategy/rollingUpdate/maxUnavailable", ""),
    ({"nats": {"updateStrategy": {"type": "Recreate"}}}, "/nats", "'updateStrategy' not allowed"),
]


@pytest.mark.parametrize("values,key,fragment", BAD_VALUES, ids=[json.dumps(v)[:60] for v, _, _ in BAD_VALUES])
def test_bad_value_rejected_naming_the_key(render_fails, values, key, fragment):
    err = render_fails(values)
    msg = str(err)
    assert "values don't meet the specifications of the schema" in msg
    assert f"at '{key}'" in msg, msg
    if fragment:
        assert fragment in msg, msg


@pytest.mark.render_fails(match=r"at '/api/replicas'")
def test_render_fails_marker(render):
    render({"api": {"replicas": "x"}})


def test_schema_closes_every_object(chart_dir):
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    open_objects = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                open_objects.append(where)
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(schema, "#")
    assert not open_objects


def _leaf_paths(node, prefix=""):
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield f"{prefix}.{k}" if prefix else k
            yield from _leaf_paths(v, f"{prefix}.{k}" if prefix else k)


def _schema_at(schema, path):
    node = schema
    for part in path.split("."):
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        props = node.get("properties")
        if props is None or part not in props:
            return None
        node = props[part]
    return node


def test_schema_covers_every_value(chart_dir):
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    values = yaml.load((chart_dir / "values.yaml").read_text(), Loader=yaml.CSafeLoader)
    missing = [p for p in _leaf_paths(values)
               if _schema_at(schema, p) is None and not p.startswith("networkPolicy.ingressPodSelector.matchLabels.")
               and not p.startswith("networkPolicy.egress.dnsPodSelector.matchLabels.")]
    assert not missing


def test_every_value_is_documented(chart_dir):
    """Bitnami style: a comment line directly above every key of values.yaml."""
    lines = (chart_dir / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z0-9_./-]+):", line)
        if not m or line.lstrip().startswith("-"):
            continue
        prev = lines[i - 1].strip() if i else ""
        if not prev.startswith("#"):
            undocumented.append(f"{i + 1}: {line.strip()}")
    assert not undocumented


def test_committed_schema_matches_generator(chart_dir):
    gen = chart_dir / "hack" / "gen_schema.py"
    assert subprocess.run([sys.executable, str(gen), "--check"]).returncode == 0, \
        "values.schema.json is stale: run python chart/hack/gen_schema.py"


def test_defaults_and_seed_pass_schema(default, seed):
    assert default and seed
