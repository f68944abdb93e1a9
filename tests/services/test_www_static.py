"""The www service: the dashboard's files, caching headers, health; no cluster-internal names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

import webhooks

STATIC = Path(webhooks.__file__).parent / "static"
IDS = ["get-webhook", "webhook-name", "webhook-token", "webhook-created", "curl-command",
       "history-title", "history", "token-input", "use-token", "logout"]


def test_index(stack):
    resp = requests.get(f"{stack.www.url}/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-cache"
    assert "etag" in resp.headers
    html = resp.text
    for ident in IDS:
        assert f'id="{ident}"' in html, ident
    assert "Get my webhook" in html
    assert 'src="app.js"' in html and 'href="style.css"' in html
    assert requests.get(f"{stack.www.url}/index.html").text == html


@pytest.mark.parametrize("name,kind", [("app.js", "javascript"), ("style.css", "text/css")])
def test_assets(stack, name, kind):
    resp = requests.get(f"{stack.www.url}/{name}")
    assert resp.status_code == 200
    assert kind in resp.headers["content-type"]
    assert resp.headers["cache-control"].startswith("public, max-age=")
    again = requests.get(f"{stack.www.url}/{name}", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304


def test_security_headers(stack):
    resp = requests.get(f"{stack.www.url}/")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_health_and_missing(stack):
    assert requests.get(f"{stack.www.url}/healthz").status_code == 200
    assert requests.get(f"{stack.www.url}/nope.js").status_code == 404


def test_page_talks_to_its_own_origin_only():
    js = (STATIC / "app.js").read_text()
    html = (STATIC / "index.html").read_text()
    for text in (js, html):
        assert not re.search(r"\b(mongo|nats|svc\.cluster|localhost|127\.0\.0\.1|:5000|:8080|:3000)\b", text)
    assert "location.host" in js and 'location.protocol === "https:" ? "wss" : "ws"' in js
    assert "/ws?token=" in js
    # the sample command exactly as in the contract
    assert ("curl -XPOST -H \"Authorization: Bearer ${token}\" ${location.origin}/data "
            "-d '{\"ok\": \"hello\"}' -H 'Content-Type: application/json'") in js
    assert "Webhooks history (#${received} payload received)" in js
    assert 'document.body.dataset.ws = state' in js
