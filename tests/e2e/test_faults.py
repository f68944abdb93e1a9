"""Pods die while payloads are posted: nothing acknowledged is lost, sockets recover.

The api, the ws and the nats pod are deleted in turn. Every payload that got
a 201 must be in GET /data afterwards, and a websocket client that reconnects
must receive new payloads.
"""

import time
import uuid

import pytest
from kubernetes import client as k8s

from chartest import installing
from webhooks_testing.traffic import Poster


def _delete_pods(kube_api, namespace, component):
    core = k8s.CoreV1Api(kube_api)
    pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/component={component}")
    assert pods.items, f"no {component} pod to delete"
    for pod in pods.items:
        core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    return {p.metadata.name for p in pods.items}


def _wait_replaced(kube_api, namespace, component, old, timeout=120):
    core = k8s.CoreV1Api(kube_api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/component={component}")
        fresh = [p for p in pods.items if p.metadata.name not in old and p.metadata.deletion_timestamp is None]
        if fresh and all(any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
                         for p in fresh):
            return
        time.sleep(1)
    raise AssertionError(f"{component} was not replaced by a Ready pod within {timeout}s")


def _reconnect_and_receive(client, token, name, deadline_s=60):
    """Reconnect like a browser would, until a new payload arrives over the socket."""
    deadline = time.monotonic() + deadline_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            with client.open_socket(token) as sock:
                if sock.greeting != f"webhook:{name}":
                    raise AssertionError(f"greeting {sock.greeting!r}")
                marker = uuid.uuid4().hex
                assert client.post_payload(token, {"probe": marker}).status_code == 201
                frame = sock.receive_payload(timeout=5)
                if frame["content"] == {"probe": marker}:
                    return
                last_error = f"unexpected frame {frame}"
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = repr(exc)
        time.sleep(1)
    raise AssertionError(f"a reconnecting socket got no new payload within {deadline_s}s: {last_error}")


@pytest.fixture(scope="module")
def fault_app(request, kind_cluster, traefik, release_values):
    domain = f"faults-{uuid.uuid4().hex[:6]}.webhooks.localhost"
    with installing(request, kind_cluster) as releases:
        yield releases({"domain": domain}), domain


@pytest.mark.slow
@pytest.mark.parametrize("component", ["api", "ws", "nats"])
def test_pod_deleted_while_posting(fault_app, kube_api, make_webhooks_client, component):
    release, domain = fault_app
    client = make_webhooks_client(domain)
    hook = client.create_webhook()
    with Poster(client, hook.token, f"kill-{component}", interval=0.1) as poster:
        time.sleep(2)
        old = _delete_pods(kube_api, release.namespace, component)
        _wait_replaced(kube_api, release.namespace, component, old)
        time.sleep(3)
    assert poster.acknowledged, "no payload was acknowledged at all"

    stored = {d["content"]["seq"] for d in client.data(hook.token, nbr=100) if "seq" in d["content"]}
    lost = sorted(set(poster.acknowledged) - stored)
    assert not lost, f"payloads acknowledged with 201 but not stored: {lost}"

    _reconnect_and_receive(client, hook.token, hook.name)


class _Collector:
    """Reads payload frames off one open socket in a thread: the seq of each, in arrival order."""

    def __init__(self, sock):
        import threading

        self.sock, self.seqs, self.errors = sock, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ws-collector")
        self._thread.start()

    def _run(self):
        import websocket

        while not self._stop.is_set():
            try:
                frame = self.sock.receive_payload(timeout=1)
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # noqa: BLE001 - the socket broke: recorded, asserted on
                self.errors.append(repr(exc))
                return
            if isinstance(frame.get("content"), dict) and "seq" in frame["content"]:
                self.seqs.append(frame["content"]["seq"])

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.mark.slow
def test_nats_pod_killed_mid_stream_every_acknowledged_payload_arrives_once(fault_app, kube_api,
                                                                            make_webhooks_client):
    """The issue's NATS drill as a pod kill: payloads posted through the ingress while a socket is
    open, the nats pod deleted mid-stream. Every 2xx payload reaches the socket (live, or replayed
    from the database once ws is back on NATS), none twice."""
    release, domain = fault_app
    client = make_webhooks_client(domain)
    hook = client.create_webhook()
    sock = client.open_socket(hook.token)
    assert sock.greeting == f"webhook:{hook.name}"
    collector = _Collector(sock)
    try:
        with Poster(client, hook.token, "nats-drill", interval=0.1) as poster:
            time.sleep(2)
            old = _delete_pods(kube_api, release.namespace, "nats")
            _wait_replaced(kube_api, release.namespace, "nats", old)
            time.sleep(3)
        acknowledged = set(poster.acknowledged)
        assert acknowledged, "no payload was acknowledged at all"
        deadline = time.monotonic() + 60   # ws replays after its reconnect, or at its 30 s resync
        while time.monotonic() < deadline and not acknowledged <= set(collector.seqs) and not collector.errors:
            time.sleep(0.5)
        time.sleep(2)   # a duplicate would come right after the replay
    finally:
        collector.stop()
        sock.close()
    assert not collector.errors, f"the socket broke: {collector.errors}"
    missing = sorted(acknowledged - set(collector.seqs))
    twice = sorted({s for s in collector.seqs if collector.seqs.count(s) > 1})
    print(f"nats drill: {len(acknowledged)} acknowledged, {len(collector.seqs)} frames, "
          f"missing {missing}, twice {twice}")
    assert not missing, f"acknowledged with 2xx but never delivered: {missing}"
    assert not twice, f"delivered more than once: {twice}"
