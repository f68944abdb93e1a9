"""The seed's acceptance test: a webhook, a socket, a payload arriving live."""

import re
import uuid

import pytest


@pytest.mark.parametrize("via", ["header", "query"])
def test_payload_arrives_over_the_websocket_and_is_stored(webhooks, via):
    before = webhooks.stats()
    hook = webhooks.create_webhook()
    assert re.fullmatch(r"[0-9a-f]{30}", hook.token)
    assert re.fullmatch(r"[a-z]+-[a-z]+-[a-z]+", hook.name)

    payload = {"ok": "hello", "nonce": uuid.uuid4().hex, "via": via}
    with webhooks.open_socket(hook.token) as sock:
        assert sock.greeting == f"webhook:{hook.name}"
        resp = webhooks.post_payload(hook.token, payload, via=via)
        assert resp.status_code == 201, resp.text
        assert resp.json() == {"info": "payload saved"}
        frame = sock.receive_payload(timeout=10)
    assert frame["content"] == payload
    assert frame["created_at"]

    stored = webhooks.data(hook.token)
    assert [d["content"] for d in stored] == [payload]
    assert stored[0]["created_at"] == frame["created_at"]

    after = webhooks.stats()
    assert after["number_of_webhooks"] == before["number_of_webhooks"] + 1
    assert after["number_of_payloads_received"] == before["number_of_payloads_received"] + 1


def test_history_is_newest_first_and_info_counts(webhooks):
    hook = webhooks.create_webhook()
    for n in range(3):
        assert webhooks.post_payload(hook.token, {"n": n}).status_code == 201
    assert [d["content"]["n"] for d in webhooks.data(hook.token)] == [2, 1, 0]
    assert [d["content"]["n"] for d in webhooks.data(hook.token, nbr=2)] == [2, 1]
    info = webhooks.get("/wh/info", headers={"Authorization": f"Bearer {hook.token}"})
    assert info.status_code == 200
    assert info.json()["info"]["payload_nbr"] == 3
    assert info.json()["info"]["name"] == hook.name


def test_delete_webhook_removes_it(webhooks):
    hook = webhooks.create_webhook()
    auth = {"Authorization": f"Bearer {hook.token}"}
    assert webhooks.post_payload(hook.token, {"x": 1}).status_code == 201
    resp = webhooks.request("DELETE", "/wh", headers=auth)
    assert resp.status_code == 200
    assert resp.json() == {"info": f"webhook {hook.name} deleted"}
    assert webhooks.get("/data", headers=auth).status_code == 404
    with webhooks.open_socket(hook.token) as sock:
        assert sock.greeting == "error:token invalid"
