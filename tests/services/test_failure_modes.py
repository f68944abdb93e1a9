"""Dependencies failing for real: FerretDB or nats-server stopped, then restarted.

Runs on a stack of its own (``fragile``), so the shared stack is never disturbed.
"""

from __future__ import annotations

import requests


def _ready(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0


def test_store_failure_is_503_and_nothing_acknowledged(fragile):
    stack = fragile.stack
    hook = fragile.new_webhook()
    assert fragile.post(hook["token"], {"before": True}).status_code == 201
    stack.mongo.stop(kill=True)
    resp = fragile.post(hook["token"], {"during": True})
    assert resp.status_code == 503
    assert "error" in resp.json()
    # every route that needs the database fails the same way, never with a hang or a crash
    assert requests.get(f"{fragile.api}/wh", timeout=10).status_code == 503
    assert requests.get(f"{fragile.api}/stats", timeout=10).status_code == 503
    assert requests.get(f"{fragile.api}/data", params={"token": hook["token"]}, timeout=10).status_code == 503
    # liveness stays green, readiness says which dependency failed
    assert requests.get(f"{fragile.api}/app/healthz").status_code == 200
    ready = requests.get(f"{fragile.api}/app/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["mongo"] != "ok" and ready.json()["nats"] == "ok"
    # the ws handshake reports the outage instead of calling the token invalid
    sock = fragile.ws(hook["token"], timeout=10)
    try:
        assert sock.recv() == "error:service unavailable"
    finally:
        sock.close()

    stack.mongo.start()
    fragile.wait_for(lambda: _ready(f"{fragile.api}/app/readyz") == 200, timeout=20, what="api ready again")
    contents = [d["content"] for d in fragile.history(hook["token"])]
    assert contents == [{"before": True}]  # the 503 payload was not stored: it was not acknowledged
    assert fragile.post(hook["token"], {"after": True}).status_code == 201


def test_publish_failure_still_stores(fragile):
    stack = fragile.stack
    hook = fragile.new_webhook()
    sock = fragile.subscribe(hook["token"])
    sock.close()
    stack.nats.stop()
    fragile.wait_for(lambda: requests.get(f"{fragile.api}/app/readyz").json()["nats"] != "ok",
                     what="api to notice nats is gone")
    ready = requests.get(f"{fragile.api}/app/readyz")
    # storage works, so the api stays Ready: what it accepts is stored and replayed later
    assert ready.status_code == 200 and ready.json()["mongo"] == "ok"
    resp = fragile.post(hook["token"], {"while": "nats is down"})
    assert resp.status_code == 201
    assert resp.json() == {"info": "payload saved"}
    assert fragile.history(hook["token"])[0]["content"] == {"while": "nats is down"}
    assert "payload stored but not published" in stack.api.log()


def test_readiness_follows_nats_and_delivery_recovers(fragile):
    stack = fragile.stack
    ws_ready = f"http://127.0.0.1:{stack.ws.port}/readyz"
    api_ready = f"{fragile.api}/app/readyz"
    assert _ready(api_ready) == 200 and _ready(ws_ready) == 200
    stack.nats.stop()
    # ws cannot receive without NATS: not Ready; the api can still store: Ready
    fragile.wait_for(lambda: _ready(ws_ready) == 503, what="ws readiness to flip to 503")
    assert _ready(api_ready) == 200 and requests.get(api_ready).json()["nats"] == "not connected"
    assert requests.get(f"{fragile.api}/app/healthz").status_code == 200
    assert requests.get(f"http://127.0.0.1:{stack.ws.port}/healthz").status_code == 200
    stack.nats.start()
    fragile.wait_for(lambda: _ready(api_ready) == 200 and _ready(ws_ready) == 200, timeout=20,
                     what="readiness back to 200 after nats restarts")
    # the one long-lived connection reconnected and the ws subscription came back with it
    fragile.assert_round_trip({"after": "reconnect"})


def test_services_start_before_their_dependencies(tmp_path):
    """api and ws come up (live, not ready) while nats and FerretDB are down, then connect."""
    from webhooks_testing.local_stack import free_port, start_ferretdb, start_nats, start_service

    nats_port, mongo_port = free_port(), free_port()
    env = {"MONGODB_URL": f"mongodb://127.0.0.1:{mongo_port}/webhooks",
           "NATS_URL": f"nats://127.0.0.1:{nats_port}", "MONGO_TIMEOUT_MS": "500"}
    api = start_service("api", tmp_path, env)
    ws = start_service("ws", tmp_path, env)
    nats = mongo = None
    try:
        assert _ready(f"{api.url}/app/readyz") == 503
        assert _ready(f"{ws.url}/readyz") == 503
        nats = start_nats(tmp_path, port=nats_port)
        mongo = start_ferretdb(tmp_path, port=mongo_port)
        w = lambda: _ready(f"{api.url}/app/readyz") == 200 and _ready(f"{ws.url}/readyz") == 200  # noqa: E731
        from time import monotonic, sleep
        deadline = monotonic() + 20
        while not w():
            assert monotonic() < deadline, api.log(20)
            sleep(0.1)
        assert requests.get(f"{api.url}/wh").status_code == 201
    finally:
        for server in (ws, api, mongo, nats):
            if server is not None:
                server.stop()


def test_retention_deletes_old_webhooks_and_payloads(fragile, tmp_path):
    """RETENTION_DAYS is enforced (FerretDB has no TTL indexes: the periodic cleanup does it)."""
    from webhooks_testing.local_stack import start_service

    stack = fragile.stack
    env = {**stack.env, "MONGODB_URL": stack.mongo.url.rsplit("/", 1)[0] + "/retention",
           "RETENTION_DAYS": str(2 / 86400), "CLEANUP_INTERVAL_SECONDS": "0.5"}
    api = start_service("api", tmp_path, env)
    try:
        hook = requests.get(f"{api.url}/wh").json()
        assert requests.post(f"{api.url}/data", params={"token": hook["token"]}, json={"a": 1}).status_code == 201
        assert requests.get(f"{api.url}/stats").json()["stats"]["number_of_payloads_received"] == 1
        fragile.wait_for(lambda: requests.get(f"{api.url}/wh/info", params={"token": hook["token"]}).status_code == 404,
                         timeout=15, what="the webhook to expire")
        # the counters follow the deletion (a write later than the webhook's own)
        fragile.wait_for(lambda: requests.get(f"{api.url}/stats").json()["stats"] == {
            "number_of_webhooks": 0, "number_of_payloads_received": 0}, timeout=15, what="the counters to follow")
        # logged once the payloads are purged too, which on FerretDB ends after the webhook is gone
        fragile.wait_for(lambda: "retention cleanup" in api.log(), timeout=15, what="the cleanup's log line")
    finally:
        api.stop()
