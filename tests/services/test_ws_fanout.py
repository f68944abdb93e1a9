"""The ws service: handshake frames, fan-out per webhook, disconnects, unsubscribe, health."""

from __future__ import annotations

import json
import threading

import pytest
import requests
import websocket


def test_subscribe_and_receive_one_json_frame(client):
    hook = client.new_webhook()
    sock = client.ws(hook["token"])
    try:
        assert sock.recv() == f"webhook:{hook['name']}"
        assert client.post(hook["token"], {"ok": "hello"}).status_code == 201
        raw = sock.recv()
        frame = json.loads(raw)  # ONE JSON encoding, not a JSON string holding JSON
        assert isinstance(frame, dict)
        assert set(frame) == {"content", "created_at"}
        assert frame["content"] == {"ok": "hello"}
        assert client.history(hook["token"])[0] == frame  # the same record as GET /data
    finally:
        sock.close()


def test_string_payload_frame(client):
    hook = client.new_webhook()
    sock = client.subscribe(hook["token"])
    try:
        client.post(hook["token"], "just text")
        assert client.frame(sock)["content"] == "just text"
    finally:
        sock.close()


def test_root_path_accepts_the_upgrade(client):
    hook = client.new_webhook()
    sock = client.ws(hook["token"], path="/")
    try:
        assert sock.recv() == f"webhook:{hook['name']}"
        client.post(hook["token"], {"via": "root"})
        assert client.frame(sock)["content"] == {"via": "root"}
    finally:
        sock.close()


def test_fan_out_only_to_own_webhook(client):
    a, b = client.new_webhook(), client.new_webhook()
    a1, a2, b1 = client.subscribe(a["token"]), client.subscribe(a["token"]), client.subscribe(b["token"])
    try:
        for i in range(5):
            client.post(a["token"], {"for": "a", "i": i})
            client.post(b["token"], {"for": "b", "i": i})
        for sock in (a1, a2):
            got = [client.frame(sock)["content"] for _ in range(5)]
            assert got == [{"for": "a", "i": i} for i in range(5)]
        got_b = [client.frame(b1)["content"] for _ in range(5)]
        assert got_b == [{"for": "b", "i": i} for i in range(5)]
        # nothing else is pending for anyone
        for sock in (a1, a2, b1):
            sock.settimeout(0.3)
            with pytest.raises(websocket.WebSocketTimeoutException):
                sock.recv()
    finally:
        for sock in (a1, a2, b1):
            sock.close()


def test_client_disconnecting_mid_stream(client):
    hook = client.new_webhook()
    stayer = client.subscribe(hook["token"])
    leavers = [client.subscribe(hook["token"]) for _ in range(3)]
    try:
        client.post(hook["token"], {"i": 0})
        for sock in leavers:
            assert client.frame(sock)["content"] == {"i": 0}
        # one closes cleanly, one vanishes without a close frame, one mid-read
        leavers[0].close()
        leavers[1].sock.shutdown(2)
        leavers[1].sock.close()
        stop = threading.Event()

        def post_many():
            for i in range(1, 31):
                client.post(hook["token"], {"i": i})
            stop.set()

        poster = threading.Thread(target=post_many)
        poster.start()
        client.frame(leavers[2])
        leavers[2].close()
        poster.join(timeout=30)
        assert stop.is_set()
        got = [client.frame(stayer)["content"]["i"] for _ in range(31)]
        assert got == list(range(31))
        # the service still accepts and serves new clients
        late = client.subscribe(hook["token"])
        client.post(hook["token"], {"i": "late"})
        assert client.frame(late)["content"] == {"i": "late"}
        assert client.frame(stayer)["content"] == {"i": "late"}
        late.close()
    finally:
        stayer.close()


def test_message_for_webhook_without_sockets(client):
    """The original crashed here: a payload for a webhook nobody watches."""
    lonely = client.new_webhook()
    watched = client.new_webhook()
    sock = client.subscribe(watched["token"])
    try:
        for i in range(5):
            assert client.post(lonely["token"], {"i": i}).status_code == 201
        client.post(watched["token"], {"still": "alive"})
        assert client.frame(sock)["content"] == {"still": "alive"}
    finally:
        sock.close()


@pytest.mark.parametrize("token", [None, "", "0" * 30, "xyz", "A" * 30, "0" * 29, "%00", "%27%22"])
def test_invalid_token_gets_error_frame_and_close(client, token):
    sock = client.ws(token)
    try:
        assert sock.recv() == "error:token invalid"
        opcode = sock.recv_data_frame(True)[0]
        assert opcode == websocket.ABNF.OPCODE_CLOSE
    finally:
        sock.close()


def test_invalid_token_close_code(client):
    sock = client.ws("0" * 30)
    try:
        assert sock.recv() == "error:token invalid"
        frame = sock.recv_frame()
        assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1008
    finally:
        sock.close()


def test_deleted_webhook_token_is_invalid(client):
    hook = client.new_webhook()
    requests.delete(f"{client.api}/wh", params={"token": hook["token"]})
    sock = client.ws(hook["token"])
    try:
        assert sock.recv() == "error:token invalid"
    finally:
        sock.close()


def test_unsubscribe_stops_frames(client):
    hook = client.new_webhook()
    quitter, other = client.subscribe(hook["token"]), client.subscribe(hook["token"])
    try:
        client.post(hook["token"], {"i": 1})
        assert client.frame(quitter)["content"] == {"i": 1}
        assert client.frame(other)["content"] == {"i": 1}
        quitter.send("unsubscribe")
        # the unsubscribe is processed asynchronously: after it, nothing more arrives
        client.wait_for(lambda: _no_frame_after_post(client, hook, quitter, other), timeout=5,
                        what="unsubscribe to take effect")
    finally:
        quitter.close()
        other.close()


def _no_frame_after_post(client, hook, quitter, other) -> bool:
    client.post(hook["token"], {"probe": True})
    assert client.frame(other)["content"] == {"probe": True}
    quitter.settimeout(0.3)
    try:
        quitter.recv()
        return False
    except websocket.WebSocketTimeoutException:
        return True


def test_client_messages_are_ignored_safely(client):
    hook = client.new_webhook()
    sock = client.subscribe(hook["token"])
    try:
        sock.send("hello?")
        sock.send_binary(b"\x00\x01")
        sock.ping("x")
        client.post(hook["token"], {"still": "subscribed"})
        assert client.frame(sock)["content"] == {"still": "subscribed"}
    finally:
        sock.close()


def test_many_clients(client):
    hook = client.new_webhook()
    socks = [client.subscribe(hook["token"]) for _ in range(20)]
    try:
        client.post(hook["token"], {"all": True})
        assert all(client.frame(s)["content"] == {"all": True} for s in socks)
    finally:
        for s in socks:
            s.close()


def test_ws_health_and_readiness(client, stack):
    base = f"http://127.0.0.1:{stack.ws.port}"
    assert requests.get(f"{base}/healthz").status_code == 200
    ready = requests.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["nats"] == "ok"
