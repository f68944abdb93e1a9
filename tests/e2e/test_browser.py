"""The dashboard in a real browser, through Traefik: a payload appears without reload."""

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_dashboard_shows_a_payload_live(webhooks, browser_page):
    page = browser_page
    page.goto(webhooks.public_url + "/", wait_until="domcontentloaded")
    page.click("#get-webhook")
    # Locator assertions poll from Playwright's isolated world; a string
    # wait_for_function would need eval, which the page's CSP rightly forbids.
    expect(page.locator("#webhook-token")).to_have_text(re.compile(r"^\s*[0-9a-f]{30}\s*$"))
    token = page.text_content("#webhook-token").strip()
    name = page.text_content("#webhook-name").strip()
    assert token and name
    page.wait_for_selector("body[data-ws='open']", timeout=15_000)
    curl = page.text_content("#curl-command")
    assert f"Bearer {token}" in curl and f"{webhooks.public_url}/data" in curl

    nonce = uuid.uuid4().hex
    resp = webhooks.post_payload(token, {"ok": "hello", "nonce": nonce})
    assert resp.status_code == 201
    page.wait_for_selector(f"#history .payload:has-text('{nonce}')", timeout=10_000)
    assert "1 payload received" in page.text_content("#history-title")

    # the page was not reloaded: the same token is still shown, from local storage
    stored = page.evaluate("JSON.stringify(window.localStorage)")
    assert token in stored
    assert json.dumps(nonce)[1:-1] in page.text_content("#history")
