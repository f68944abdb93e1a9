"""Clients of the webhooks app that talk to it only through the ingress, as a user would.

Requests go to Traefik's entry point with the release's ``Host``; nothing here
knows a cluster-internal name. Built on requests and websocket-client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import websocket


@dataclass(frozen=True)
class Webhook:
    name: str
    token: str
    created_at: str


class WebhooksClient:
    """HTTP and websocket access to one deployed webhooks app.

    ``base_url`` is Traefik's entry point (``http://127.0.0.1:18080``); ``host``
    is the app's domain, sent as the Host header.
    """

    def __init__(self, base_url: str, host: str, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.host = host
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Host"] = host

    def __repr__(self) -> str:
        return f"WebhooksClient({self.base_url!r}, host={self.host!r})"

    @property
    def public_url(self) -> str:
        """The URL a browser uses (``*.localhost`` resolves to loopback)."""
        port = urlsplit(self.base_url).port
        return f"http://{self.host}:{port}" if port else f"http://{self.host}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def create_webhook(self) -> Webhook:
        resp = self.get("/wh")
        assert resp.status_code == 201, f"GET /wh -> {resp.status_code} {resp.text[:200]}"
        body = resp.json()
        return Webhook(body["name"], body["token"], body["created_at"])

    def post_payload(self, token: str | None, payload: Any, *, via: str = "header",
                     **kw) -> requests.Response:
        """POST a JSON payload to /data with the token in the Bearer header or ``?token=``."""
        headers = {"Content-Type": "application/json"}
        params = {}
        if token is not None and via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None:
            params["token"] = token
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.request("POST", "/data", data=body, headers=headers | kw.pop("headers", {}),
                            params=params, **kw)

    def data(self, token: str, nbr: int | None = None) -> list[dict]:
        params = {"nbr": nbr} if nbr is not None else {}
        resp = self.get("/data", headers={"Authorization": f"Bearer {token}"}, params=params)
        assert resp.status_code == 200, f"GET /data -> {resp.status_code} {resp.text[:200]}"
        return resp.json()["data"]

    def stats(self) -> dict:
        resp = self.get("/stats")
        assert resp.status_code == 200, f"GET /stats -> {resp.status_code} {resp.text[:200]}"
        return resp.json()["stats"]

    def served_by(self, method: str, path: str) -> str:
        """Which service answered ``method path`` (``"WS"`` for a websocket handshake):
        ``api``, ``ws`` or ``www``, else a short description of what answered.

        Told by what each service answers: api speaks JSON only, ws upgrades and
        greets (``webhook:`` or ``error:``), www serves the dashboard's files (a
        404 from www is still www; Traefik's own 404 says "page not found").
        """
        if method == "WS":
            url = self.base_url.replace("http", "ws", 1) + path
            try:
                conn = websocket.create_connection(url, host=self.host, timeout=self.timeout)
            except websocket.WebSocketBadStatusException as exc:
                return f"no websocket upgrade ({exc.status_code})"
            try:
                greeting = conn.recv()
            finally:
                conn.close()
            return "ws" if greeting.startswith(("webhook:", "error:")) else f"unknown greeting {greeting!r}"
        return self.backend_of(self.request(method, path))

    @staticmethod
    def backend_of(resp: requests.Response) -> str:
        """The service that sent this HTTP response (see :meth:`served_by`)."""
        ctype = resp.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return "api"
        if ctype.startswith(("text/html", "text/css", "text/javascript", "application/javascript", "text/plain")):
            return "www" if resp.status_code != 404 or "page not found" not in resp.text else "traefik 404"
        return f"unknown ({resp.status_code} {ctype})"

    def open_socket(self, token: str, timeout: float | None = None) -> "Socket":
        """Open ``/ws?token=`` through the ingress; returns after the greeting frame."""
        ws_url = self.base_url.replace("http", "ws", 1) + f"/ws?token={token}"
        conn = websocket.create_connection(ws_url, host=self.host, timeout=timeout or self.timeout)
        return Socket(conn, conn.recv())


@dataclass
class Socket:
    """An open websocket and the first frame the server sent (``webhook:<name>`` or an error)."""

    conn: websocket.WebSocket
    greeting: str

    def receive_payload(self, timeout: float = 10) -> dict:
        """The next payload frame, decoded: ``{"content": ..., "created_at": ...}``."""
        self.conn.settimeout(timeout)
        return json.loads(self.conn.recv())

    def receive_text(self, timeout: float = 10) -> str:
        self.conn.settimeout(timeout)
        return self.conn.recv()

    def receive_close_code(self, timeout: float = 10) -> int | None:
        """Wait for the server's close frame; returns its status code (None if it sent none)."""
        self.conn.settimeout(timeout)
        while True:
            opcode, data = self.conn.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
