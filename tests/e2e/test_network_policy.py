"""The chart's NetworkPolicies are enforced: a pod outside them reaches none of the app's services.

A probe pod in a namespace of its own (no label any policy allows) tries TCP
connections to mongo, NATS, api and ws through their Services: none may
connect (the node image's enforcer, kube-router, rejects them: refused; a
dropping enforcer makes them time out), while the same pod reaches Traefik (no
policy there: the network itself works) and the app, which needs every one of
those services listening, keeps serving through the ingress. On a CNI that does
not enforce NetworkPolicies every connection succeeds and this test fails.
"""

from __future__ import annotations

import json
import uuid

import pytest

PROBED = ("mongo", "nats", "api", "ws")
CONNECT = """
import json, socket, sys
results = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=4).close()
        results[target] = "connected"
    except socket.timeout:
        results[target] = "timeout"
    except OSError as exc:
        results[target] = type(exc).__name__
print(json.dumps(results))
"""


@pytest.fixture
def outside_pod(kind_cluster, app_images):
    """A pod running the api image in a fresh namespace none of the chart's policies admits."""
    namespace = f"netpol-probe-{uuid.uuid4().hex[:6]}"
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "probe", "image": app_images["api"], "imagePullPolicy": "IfNotPresent",
                                 "command": ["python3", "-c", "import time; time.sleep(3600)"],
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}]},
    }
    kind_cluster.kubectl("create", "namespace", namespace)
    try:
        kind_cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
        kind_cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/probe", "--timeout=120s",
                             timeout=150)
        yield namespace
    finally:
        kind_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _service_targets(release) -> dict[str, str]:
    """component -> ``<service>.<namespace>.svc.cluster.local:<port>`` from the release's manifest."""
    targets = {}
    for doc in release.manifest():
        if doc.get("kind") != "Service":
            continue
        component = doc["metadata"]["labels"].get("app.kubernetes.io/component")
        port = doc["spec"]["ports"][0]["port"]
        targets[component] = f"{doc['metadata']['name']}.{release.namespace}.svc.cluster.local:{port}"
    return targets


def _traefik_target(cluster) -> str:
    svc = json.loads(cluster.kubectl("-n", "traefik", "get", "services", "-o", "json", stdout_only=True))["items"][0]
    return f"{svc['metadata']['name']}.traefik.svc.cluster.local:{svc['spec']['ports'][0]['port']}"


def test_pod_outside_the_policies_reaches_no_service(webhooks_app, webhooks, kind_cluster, outside_pod):
    targets = _service_targets(webhooks_app)
    assert set(PROBED) <= set(targets), f"services of the release: {sorted(targets)}"
    control = _traefik_target(kind_cluster)
    probes = [targets[c] for c in PROBED] + [control]
    out = kind_cluster.kubectl("-n", outside_pod, "exec", "probe", "--", "python3", "-c", CONNECT, *probes,
                               timeout=120, stdout_only=True)
    results = json.loads(out.strip().splitlines()[-1])
    assert results[control] == "connected", f"the probe pod cannot reach Traefik either: {results}"
    blocked = {"timeout", "ConnectionRefusedError"}  # dropped, or rejected with ICMP port unreachable
    reached = {c: results[targets[c]] for c in PROBED if results[targets[c]] not in blocked}
    assert not reached, f"a pod outside the NetworkPolicies reached {reached}: {results}"

    hook = webhooks.create_webhook()  # and the app still works through the ingress
    with webhooks.open_socket(hook.token) as sock:
        assert webhooks.post_payload(hook.token, {"policy": "held"}).status_code == 201
        assert sock.receive_payload()["content"] == {"policy": "held"}
