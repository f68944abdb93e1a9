"""Every api route, status code and JSON shape of the contract (shared/docs/webhooks-app.md)."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import requests

TOKEN = re.compile(r"^[0-9a-f]{30}$")
NAME = re.compile(r"^[a-z]+-[a-z]+-[a-z]+$")
UNKNOWN = "0" * 30


def iso_with_offset(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def test_create_webhook(client):
    resp = requests.get(f"{client.api}/wh", timeout=10)
    assert resp.status_code == 201
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"name", "token", "created_at"}
    assert TOKEN.match(body["token"]), body
    assert NAME.match(body["name"]), body
    iso_with_offset(body["created_at"])


def test_webhooks_are_distinct(client):
    hooks = [client.new_webhook() for _ in range(5)]
    assert len({h["token"] for h in hooks}) == 5
    assert len({h["name"] for h in hooks}) == 5


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/wh"), ("GET", "/wh/info"), ("POST", "/data"), ("GET", "/data"),
])
def test_token_required(client, method, path):
    resp = requests.request(method, f"{client.api}{path}", timeout=10)
    assert resp.status_code == 401
    assert resp.json() == {"error": "authentication required"}


@pytest.mark.parametrize("token", [UNKNOWN, "abc", "Z" * 30, "0" * 31, "' or 1=1", '{"$ne": null}'])
@pytest.mark.parametrize("method,path", [
    ("DELETE", "/wh"), ("GET", "/wh/info"), ("POST", "/data"), ("GET", "/data"),
])
def test_unknown_token(client, method, path, token):
    resp = requests.request(method, f"{client.api}{path}", headers={"Authorization": f"Bearer {token}"},
                            json={"a": 1}, timeout=10)
    assert resp.status_code == 404
    assert resp.json() == {"error": "not found"}


def test_token_from_header_or_query(client):
    hook = client.new_webhook()
    by_header = requests.get(f"{client.api}/wh/info", headers={"Authorization": f"Bearer {hook['token']}"})
    by_query = requests.get(f"{client.api}/wh/info", params={"token": hook["token"]})
    lower_scheme = requests.get(f"{client.api}/wh/info", headers={"Authorization": f"bearer {hook['token']}"})
    assert by_header.status_code == by_query.status_code == lower_scheme.status_code == 200
    assert by_header.json() == by_query.json()
    # the header wins over the query parameter
    both = requests.get(f"{client.api}/wh/info", params={"token": UNKNOWN},
                        headers={"Authorization": f"Bearer {hook['token']}"})
    assert both.status_code == 200


def test_info_without_payloads(client):
    hook = client.new_webhook()
    resp = requests.get(f"{client.api}/wh/info", params={"token": hook["token"]})
    assert resp.status_code == 200
    assert resp.json() == {"info": {"name": hook["name"], "created_at": hook["created_at"],
                                    "payload_nbr": 0, "last_payload_date": "N/A"}}


def test_post_then_history_and_info(client):
    hook = client.new_webhook()
    payloads = [{"n": i, "nested": {"list": [1, 2, {"x": None}]}} for i in range(3)] + ["a plain string"]
    for payload in payloads:
        resp = client.post(hook["token"], payload)
        assert resp.status_code == 201
        assert resp.json() == {"info": "payload saved"}
    data = client.history(hook["token"])
    assert [d["content"] for d in data] == list(reversed(payloads))  # newest first
    assert all(set(d) == {"content", "created_at"} for d in data)
    stamps = [iso_with_offset(d["created_at"]) for d in data]
    assert stamps == sorted(stamps, reverse=True)
    resp = requests.get(f"{client.api}/data", params={"token": hook["token"]})
    assert resp.json()["webhook"] == hook["name"]
    info = requests.get(f"{client.api}/wh/info", params={"token": hook["token"]}).json()["info"]
    assert info["payload_nbr"] == 4
    assert info["last_payload_date"] == data[0]["created_at"]


def test_payload_round_trips_exactly(client):
    hook = client.new_webhook()
    payload = {"$set": {"a.b": 1}, "unicode": "héllo ✓ 🎉", "big": 2**70, "float": 1.5e-7,
               "empty": {}, "deep": {"a": {"b": {"c": {"d": [[[]]]}}}}, "nul\u0000key": "x"}
    assert client.post(hook["token"], payload).status_code == 201
    assert client.history(hook["token"])[0]["content"] == payload


def test_nbr_parameter(client):
    hook = client.new_webhook()
    for i in range(25):
        assert client.post(hook["token"], {"i": i}).status_code == 201
    assert len(client.history(hook["token"])) == 20               # default
    assert len(client.history(hook["token"], nbr=5)) == 5
    assert [d["content"]["i"] for d in client.history(hook["token"], nbr=3)] == [24, 23, 22]
    assert len(client.history(hook["token"], nbr=1000)) == 25     # capped at 100, only 25 exist
    for junk in ("abc", "", "1.5", "-3", "0"):
        resp = requests.get(f"{client.api}/data", params={"token": hook["token"], "nbr": junk})
        assert resp.status_code == 200
        assert len(resp.json()["data"]) == 20, junk


def test_nbr_capped_at_100(client):
    hook = client.new_webhook()
    for i in range(105):
        assert client.post(hook["token"], {"i": i}).status_code == 201
    assert len(client.history(hook["token"], nbr=500)) == 100


@pytest.mark.parametrize("body,content_type", [
    (b"", "application/json"),
    (b"   ", "application/json"),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"[]", "application/json"),
    (b"42", "application/json"),
    (b"4.2", "application/json"),
    (b"true", "application/json"),
    (b"null", "application/json"),
    (b'""', "application/json"),
    (b"NaN", "application/json"),
    (b'{"a": Infinity}', "application/json"),
    (b'"\\ud800"', "application/json"),
    (b"\xff\xfe\xfd", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"a": 1}', None),
    (b'{"a": 1}', "text/plain"),
    (b'{"a": 1}', "application/x-www-form-urlencoded"),
])
def test_bad_payloads(client, body, content_type):
    hook = client.new_webhook()
    headers = {"Authorization": f"Bearer {hook['token']}"}
    if content_type:
        headers["Content-Type"] = content_type
    resp = requests.post(f"{client.api}/data", data=body, headers=headers, timeout=10)
    assert resp.status_code == 400, resp.text
    assert isinstance(resp.json()["error"], str)
    assert client.history(hook["token"]) == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON",
                                          "application/vnd.api+json"])
def test_json_content_types_accepted(client, content_type):
    hook = client.new_webhook()
    resp = requests.post(f"{client.api}/data", data=b'{"ok": "hello"}',
                         headers={"Authorization": f"Bearer {hook['token']}", "Content-Type": content_type})
    assert resp.status_code == 201


def test_payload_too_large_by_content_length(client, stack):
    hook = client.new_webhook()
    limit = int(stack.extra_env["MAX_PAYLOAD_BYTES"])
    body = json.dumps({"x": "a" * limit}).encode()
    resp = requests.post(f"{client.api}/data", data=body, timeout=10,
                         headers={"Authorization": f"Bearer {hook['token']}", "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "error" in resp.json()
    # exactly at the limit is fine
    at_limit = json.dumps({"x": "a" * (limit - 9)}).encode()
    assert len(at_limit) == limit
    resp = requests.post(f"{client.api}/data", data=at_limit, timeout=10,
                         headers={"Authorization": f"Bearer {hook['token']}", "Content-Type": "application/json"})
    assert resp.status_code == 201


def test_payload_too_large_when_streamed(client, stack):
    """No Content-Length (chunked transfer): the streamed size is checked too."""
    hook = client.new_webhook()
    limit = int(stack.extra_env["MAX_PAYLOAD_BYTES"])

    def chunks():
        yield b'{"x": "'
        for _ in range(limit // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    resp = requests.post(f"{client.api}/data", data=chunks(), timeout=10,
                         headers={"Authorization": f"Bearer {hook['token']}", "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "error" in resp.json()
    assert client.history(hook["token"]) == []


def test_small_chunked_payload_accepted(client):
    hook = client.new_webhook()
    resp = requests.post(f"{client.api}/data", data=iter([b'{"chunked"', b": true}"]), timeout=10,
                         headers={"Authorization": f"Bearer {hook['token']}", "Content-Type": "application/json"})
    assert resp.status_code == 201
    assert client.history(hook["token"])[0]["content"] == {"chunked": True}


def test_delete_webhook_removes_payloads(client):
    hook = client.new_webhook()
    client.post(hook["token"], {"a": 1})
    before = requests.get(f"{client.api}/stats").json()["stats"]
    resp = requests.delete(f"{client.api}/wh", headers={"Authorization": f"Bearer {hook['token']}"})
    assert resp.status_code == 200
    assert resp.json() == {"info": f"webhook {hook['name']} deleted"}
    assert requests.get(f"{client.api}/wh/info", params={"token": hook["token"]}).status_code == 404
    assert requests.delete(f"{client.api}/wh", params={"token": hook["token"]}).status_code == 404
    after = requests.get(f"{client.api}/stats").json()["stats"]
    assert after["number_of_webhooks"] == before["number_of_webhooks"] - 1
    assert after["number_of_payloads_received"] == before["number_of_payloads_received"] - 1


def test_stats(client):
    before = requests.get(f"{client.api}/stats")
    assert before.status_code == 200
    stats = before.json()["stats"]
    assert set(stats) == {"number_of_webhooks", "number_of_payloads_received"}
    hook = client.new_webhook()
    client.post(hook["token"], {"a": 1})
    client.post(hook["token"], "two")
    after = requests.get(f"{client.api}/stats").json()["stats"]
    assert after["number_of_webhooks"] == stats["number_of_webhooks"] + 1
    assert after["number_of_payloads_received"] == stats["number_of_payloads_received"] + 2


def test_health_and_readiness(client):
    resp = requests.get(f"{client.api}/app/healthz")
    assert resp.status_code == 200 and resp.json() == {}
    resp = requests.get(f"{client.api}/app/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"mongo": "ok", "nats": "ok"}


def test_openapi(client):
    resp = requests.get(f"{client.api}/docs/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    assert spec["openapi"].startswith("3.")
    assert {"/wh", "/wh/info", "/data", "/stats", "/app/healthz"} <= set(spec["paths"])


@pytest.mark.parametrize("path", ["/", "/nope", "/wh/nope", "/data/x", "/ws", "/app"])
def test_unknown_path(client, path):
    resp = requests.get(f"{client.api}{path}")
    assert resp.status_code == 404
    assert resp.json() == {"error": "not found"}


@pytest.mark.parametrize("method,path", [
    ("POST", "/wh"), ("PUT", "/wh"), ("PATCH", "/data"), ("DELETE", "/data"), ("POST", "/stats"),
    ("DELETE", "/wh/info"), ("POST", "/app/healthz"),
])
def test_wrong_method(client, method, path):
    resp = requests.request(method, f"{client.api}{path}")
    assert resp.status_code == 405
    assert resp.json() == {"error": "incorrect method"}


def test_head_does_not_create_webhooks(client):
    before = requests.get(f"{client.api}/stats").json()["stats"]["number_of_webhooks"]
    assert requests.head(f"{client.api}/wh").status_code == 405
    assert requests.get(f"{client.api}/stats").json()["stats"]["number_of_webhooks"] == before


def test_cors_open(client):
    hook = client.new_webhook()
    resp = requests.get(f"{client.api}/wh/info", params={"token": hook["token"]},
                        headers={"Origin": "https://elsewhere.example"})
    assert resp.headers["access-control-allow-origin"] == "*"
    preflight = requests.options(f"{client.api}/data", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
