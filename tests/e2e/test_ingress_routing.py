"""The seed's routing table through Traefik: one parametrized line per route.

A routing bug in the chart's IngressRoute shows up as exactly one failing line.
Which service answered is told by what it answers (``WebhooksClient.served_by``):
api speaks JSON only, ws upgrades to a websocket and greets, www serves the
dashboard's files.
"""

import pytest
import requests

ROUTES = [
    # method, path, service that must answer
    ("GET", "/wh", "api"),
    ("GET", "/wh/info", "api"),
    ("GET", "/data", "api"),
    ("POST", "/data", "api"),
    ("GET", "/data?nbr=5", "api"),
    ("GET", "/stats", "api"),
    ("WS", "/ws", "ws"),
    ("WS", "/ws?token=" + "0" * 30, "ws"),
    ("GET", "/", "www"),
    ("GET", "/app.js", "www"),
    ("GET", "/style.css", "www"),
    ("GET", "/app/healthz", "www"),  # the api's health route is not exposed by the ingress
    ("GET", "/some/page", "www"),
]


@pytest.mark.parametrize(("method", "path", "service"), ROUTES, ids=[f"{m} {p} -> {s}" for m, p, s in ROUTES])
def test_route(webhooks, method, path, service):
    assert webhooks.served_by(method, path) == service


def test_landing_page_is_the_dashboard(webhooks):
    resp = webhooks.get("/")
    assert resp.status_code == 200
    assert "Get my webhook" in resp.text


@pytest.mark.parametrize("path", ["/", "/stats", "/wh", "/ws"])
def test_wrong_host_gets_no_app(webhooks, path):
    resp = requests.get(webhooks.base_url + path, headers={"Host": "not-the-app.example"}, timeout=10)
    assert resp.status_code == 404
    assert "Get my webhook" not in resp.text
    assert not resp.headers.get("content-type", "").startswith("application/json")
