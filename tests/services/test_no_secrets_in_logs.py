"""No secret in any log: the acceptance flow's tokens appear in no line any service wrote.

Covers every place a token travels: ``Authorization`` headers, ``?token=`` on
every api route (also on 404 paths and with unknown or malformed tokens), the
websocket handshake (uvicorn logs ``"WebSocket /ws?token=..."``), and a token
in the path. Every log of the stack is searched: api, ws, www, nats, FerretDB.
"""

from __future__ import annotations

import time

import requests


def _all_logs(stack) -> dict[str, str]:
    return {path.name: path.read_text(errors="replace") for path in stack.workdir.glob("*.log")}


def test_tokens_appear_in_no_log(client, stack):
    api = client.api
    hook = client.new_webhook()
    token = hook["token"]
    unknown = "0123456789abcdef0123456789abcd"       # well-formed, belongs to nobody
    malformed = "not-a-token-but-still-a-secret-42"   # what a confused client might send

    sock = client.subscribe(token)
    try:
        assert client.post(token, {"acceptance": True}).status_code == 201
        assert client.frame(sock)["content"] == {"acceptance": True}
    finally:
        sock.close()
    assert requests.get(f"{api}/data", params={"token": token}, timeout=10).status_code == 200
    assert requests.get(f"{api}/wh/info", params={"token": token}, timeout=10).status_code == 200
    assert requests.post(f"{api}/data", params={"token": token}, data=b"not json",
                         headers={"Content-Type": "application/json"}, timeout=10).status_code == 400
    assert requests.get(f"{api}/data/{token}", timeout=10).status_code == 404
    for bad in (unknown, malformed):
        assert requests.get(f"{api}/data", params={"token": bad}, timeout=10).status_code == 404
        bad_sock = client.ws(bad)
        try:
            assert bad_sock.recv() == "error:token invalid"
        finally:
            bad_sock.close()
    assert requests.get(f"{stack.www.url}/", params={"token": token}, timeout=10).status_code == 200
    assert requests.delete(f"{api}/wh", params={"token": token}, timeout=10).status_code == 200

    time.sleep(0.5)  # let every process write its last lines
    logs = _all_logs(stack)
    assert {"api.log", "ws.log", "www.log", "nats.log", "ferretdb.log"} <= set(logs)
    # the handshake line is written, without its token: the redaction ran, not a lucky silence
    assert '"WebSocket /ws?token=[redacted]' in logs["ws.log"]
    for secret in (token, unknown, malformed):
        leaks = {name: [line for line in text.splitlines() if secret in line][:2]
                 for name, text in logs.items() if secret in text}
        assert not leaks, f"token written to logs: {leaks}"
