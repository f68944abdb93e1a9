"""A worker is drained while payloads flow: the app keeps serving and loses nothing acknowledged.

On the 1+2 kind cluster (``kind_cluster_with_nodes``) the chart runs api, ws and
www with two replicas each, spread over the two workers by the chart's
topologySpreadConstraint. Traefik, mongo and NATS have one replica each; they
are kept on one worker (the one Traefik landed on), and the other worker, which
holds only the stateless replicas, is drained with ``kubectl drain`` while a
poster sends payloads through the ingress and a websocket listens. Every post
must be answered 201, every 201 stored, and the socket must receive every
payload posted while it was connected. The worker is uncordoned afterwards.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import websocket

from chartest import installing
from webhooks_testing.client import WebhooksClient
from webhooks_testing.traffic import Poster

pytestmark = [pytest.mark.needs_whole_cluster, pytest.mark.slow]

REPLICATED = ("api", "ws", "www")


def _pods(cluster, namespace: str) -> list[dict]:
    return json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-o", "json", stdout_only=True))["items"]


def _node_of(cluster, namespace: str, selector: str) -> str:
    pods = json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json", stdout_only=True))["items"]
    assert pods, f"no pod matches {selector} in {namespace}"
    return pods[0]["spec"]["nodeName"]


def _workers(cluster) -> list[str]:
    out = cluster.kubectl("get", "nodes", "-l", "!node-role.kubernetes.io/control-plane", "-o", "name",
                          stdout_only=True)
    return sorted(line.split("/", 1)[1] for line in out.split())


class Listener:
    """A websocket kept open in a thread (reopened when the server closes it), recording frames."""

    def __init__(self, client: WebhooksClient, token: str):
        self.client, self.token = client, token
        self.received: set[int] = set()
        self.connected_at: list[float] = []  # monotonic times of each successful (re)connect
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="drain-listener")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.client.open_socket(self.token) as sock:
                    self.connected_at.append(time.monotonic())
                    while not self._stop.is_set():
                        try:
                            frame = sock.receive_payload(timeout=1)
                        except websocket.WebSocketTimeoutException:
                            continue
                        self.received.add(frame["content"]["seq"])
            except Exception:  # noqa: BLE001 - the server went away: reconnect, as a browser does
                self.dropped += 1
                time.sleep(0.5)

    def __enter__(self) -> "Listener":
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.connected_at and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.connected_at, "the websocket did not open within 30 s"
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(3)  # let the last frames arrive
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def spread_app(request, kind_cluster_with_nodes, multi_node_traefik, multi_node_release_values):
    """The chart with two replicas of api, ws and www that must sit on different workers, and the
    single-replica services pinned to the worker Traefik runs on."""
    cluster = kind_cluster_with_nodes
    workers = _workers(cluster)
    assert len(workers) == 2, f"expected two workers, got {workers}"
    traefik_node = _node_of(cluster, "traefik", "app.kubernetes.io/name=traefik")
    pinned = {"nodeSelector": {"kubernetes.io/hostname": traefik_node}}
    spread = {"replicas": 2, "spread": {"whenUnsatisfiable": "DoNotSchedule"}, "pdb": {"enabled": True}}
    domain = f"drain-{uuid.uuid4().hex[:6]}.webhooks.localhost"
    values = {"domain": domain, "mongo": pinned, "nats": pinned, **{s: spread for s in REPLICATED}}
    with installing(request, cluster, base_values=multi_node_release_values) as releases:
        release = releases(values)
        yield release, WebhooksClient(multi_node_traefik, domain), traefik_node


def test_replicas_are_spread_over_the_workers(spread_app, kind_cluster_with_nodes):
    release, _, _ = spread_app
    pods = _pods(kind_cluster_with_nodes, release.namespace)
    workers = set(_workers(kind_cluster_with_nodes))
    for component in REPLICATED:
        nodes = sorted(p["spec"]["nodeName"] for p in pods
                       if p["metadata"]["labels"].get("app.kubernetes.io/component") == component)
        assert len(nodes) == 2 and set(nodes) == workers, f"{component} replicas on {nodes}, workers {workers}"


def test_drain_a_worker_while_posting(spread_app, kind_cluster_with_nodes):
    release, client, traefik_node = spread_app
    cluster = kind_cluster_with_nodes
    [drained] = [w for w in _workers(cluster) if w != traefik_node]
    hook = client.create_webhook()
    poster = Poster(client, hook.token, "drain", interval=0.5)  # 90 payloads: 45 s of traffic
    try:
        with Listener(client, hook.token) as listener, poster:
            time.sleep(2)
            started = time.monotonic()
            cluster.kubectl("drain", drained, "--ignore-daemonsets", "--delete-emptydir-data",
                            "--timeout=180s", timeout=240)
            drain_s = time.monotonic() - started
            cluster.kubectl("-n", release.namespace, "rollout", "status", "deployment", "--timeout=120s",
                            timeout=150)
            time.sleep(2)
    finally:
        cluster.kubectl("uncordon", drained)

    assert len(poster.acknowledged) >= 20, f"too little traffic to prove anything: {len(poster.outcomes)} posts"
    assert not poster.failures, (f"the app stopped serving while {drained} drained ({drain_s:.0f}s): "
                                 f"{poster.failures[:10]}")
    stored = {d["content"]["seq"] for d in client.data(hook.token, nbr=100) if "seq" in d["content"]}
    lost = sorted(set(poster.acknowledged) - stored)
    assert not lost, f"payloads acknowledged with 201 but not stored: {lost}"
    # the socket gets every payload posted after its last (re)connect; with no reconnect, every one
    since = listener.connected_at[-1]
    expected = {o.seq for o in poster.outcomes if o.status == 201 and o.sent_at > since}
    missed = sorted(expected - listener.received)
    assert not missed, (f"the websocket missed payloads it was connected for: {missed} "
                        f"(reconnects: {listener.dropped})")
    pods = _pods(cluster, release.namespace)
    assert all(p["spec"]["nodeName"] != drained for p in pods), "a pod still runs on the drained worker"
