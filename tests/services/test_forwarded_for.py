"""``X-Forwarded-For`` counts only from ``TRUSTED_PROXIES`` (the ingress), never from any caller.

The attack: a client sends ``X-Forwarded-For: <someone else>`` straight to the api
and the address it chose lands in the access log (and anything keyed by it).
The shared stack runs with ``TRUSTED_PROXIES`` unset (trust nobody); a second
api on the same database trusts loopback, as the chart makes it trust the ingress.
"""

from __future__ import annotations

import json

import requests

from webhooks_testing.local_stack import start_service

SPOOFED = "203.0.113.77"


def access_clients(log_text: str) -> list[str]:
    """The ``client`` of every access line of a service log (JSON lines)."""
    clients = []
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "request" and record.get("path") == "/stats":
            clients.append(record.get("client"))
    return clients


def test_untrusted_caller_cannot_choose_its_address(client, stack):
    resp = requests.get(f"{stack.api.url}/stats", headers={"X-Forwarded-For": SPOOFED}, timeout=10)
    assert resp.status_code == 200
    client.wait_for(lambda: access_clients(stack.api.log()), what="the api's access line")
    clients = access_clients(stack.api.log())
    assert SPOOFED not in clients and "127.0.0.1" in clients


def test_trusted_proxy_forwards_the_client_address(client, stack, tmp_path):
    env = {"MONGODB_URL": stack.mongo.url, "NATS_URL": stack.nats.url, "TRUSTED_PROXIES": "127.0.0.1/32"}
    api = start_service("api", tmp_path, env)
    try:
        resp = requests.get(f"{api.url}/stats", headers={"X-Forwarded-For": SPOOFED}, timeout=10)
        assert resp.status_code == 200
        client.wait_for(lambda: access_clients(api.log()), what="the api's access line")
        assert access_clients(api.log()) == [SPOOFED]
    finally:
        api.stop()
