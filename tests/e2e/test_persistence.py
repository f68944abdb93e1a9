"""mongo keeps its data on a volume: a PVC of the default StorageClass binds, and a pod kill loses nothing.

The e2e values turn the chart's mongo persistence on; the node image's
local-path provisioner backs the default StorageClass ``standard``.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from chartest import installing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def persistent_app(request, kind_cluster, traefik, release_values):
    domain = f"pvc-{uuid.uuid4().hex[:6]}.webhooks.localhost"
    assert release_values["mongo"]["persistence"]["enabled"], "the e2e values must turn persistence on"
    with installing(request, kind_cluster) as releases:
        yield releases({"domain": domain}), domain


def _mongo_pods(cluster, namespace: str) -> list[dict]:
    return json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/component=mongo",
                                      "-o", "json", stdout_only=True))["items"]


def _mongo_pod(cluster, namespace: str) -> dict:
    pods = _mongo_pods(cluster, namespace)
    assert len(pods) == 1, f"expected one mongo pod, got {[p['metadata']['name'] for p in pods]}"
    return pods[0]


def test_mongo_claim_binds_from_the_default_storage_class(persistent_app, kind_cluster):
    release, _ = persistent_app
    [claim] = json.loads(kind_cluster.kubectl("-n", release.namespace, "get", "pvc", "-o", "json",
                                              stdout_only=True))["items"]
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "standard"
    volumes = _mongo_pod(kind_cluster, release.namespace)["spec"]["volumes"]
    assert {"claimName": claim["metadata"]["name"]} in [v.get("persistentVolumeClaim") for v in volumes]


def test_data_survives_deleting_the_mongo_pod(persistent_app, kind_cluster, make_webhooks_client):
    release, domain = persistent_app
    client = make_webhooks_client(domain)
    hook = client.create_webhook()
    for n in range(5):
        assert client.post_payload(hook.token, {"kept": n}).status_code == 201
    old = _mongo_pod(kind_cluster, release.namespace)["metadata"]["uid"]
    kind_cluster.kubectl("-n", release.namespace, "delete", "pod", "-l", "app.kubernetes.io/component=mongo",
                         "--wait=true", timeout=120)
    deadline = time.monotonic() + 180
    while True:  # none for a moment, until the StatefulSet controller makes the new one
        pods = _mongo_pods(kind_cluster, release.namespace)
        ready = len(pods) == 1 and any(c["type"] == "Ready" and c["status"] == "True"
                                       for c in pods[0]["status"].get("conditions", []))
        if ready and pods[0]["metadata"]["uid"] != old:
            break
        assert time.monotonic() < deadline, "mongo was not back and Ready within 180 s"
        time.sleep(2)
    deadline = time.monotonic() + 60
    while True:  # the api reconnects to the new mongo pod
        try:
            kept = sorted(d["content"]["kept"] for d in client.data(hook.token) if "kept" in d["content"])
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            kept = repr(exc)
        if kept == list(range(5)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert kept == list(range(5)), f"payloads after the mongo pod was replaced: {kept}"
