"""Bad input through the ingress gets the documented 4xx, and the app keeps serving."""

import pytest

TWO_MIB = b'{"blob": "' + b"x" * (2 * 1024 * 1024) + b'"}'


@pytest.fixture(scope="module")
def hook(webhooks_app, make_webhooks_client):
    return make_webhooks_client(webhooks_app.values["domain"]).create_webhook()


@pytest.mark.parametrize(
    ("case", "body", "content_type", "token", "status", "error"),
    [
        ("malformed JSON", b'{"ok": ', "application/json", "valid", 400, None),
        ("empty body", b"", "application/json", "valid", 400, None),
        ("a JSON list", b"[1, 2]", "application/json", "valid", 400, None),
        ("a JSON number", b"42", "application/json", "valid", 400, None),
        ("2 MiB body", TWO_MIB, "application/json", "valid", 413, None),
        ("unknown token", b'{"ok": 1}', "application/json", "0" * 30, 404, "not found"),
        ("missing token", b'{"ok": 1}', "application/json", None, 401, "authentication required"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_bad_payload_is_rejected_with_a_json_error(webhooks, hook, case, body, content_type, token,
                                                   status, error):
    token = hook.token if token == "valid" else token
    resp = webhooks.post_payload(token, body, headers={"Content-Type": content_type}, timeout=30)
    assert resp.status_code == status, f"{case}: {resp.status_code} {resp.text[:200]}"
    assert resp.headers["content-type"].startswith("application/json")
    body_json = resp.json()
    assert "error" in body_json
    if error:
        assert body_json["error"] == error
    # the app keeps serving, and nothing of the bad request was stored
    assert webhooks.post_payload(hook.token, {"after": case}).status_code == 201
    assert webhooks.data(hook.token, nbr=1)[0]["content"] == {"after": case}
