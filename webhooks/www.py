"""The web dashboard service (port 3000): static files and ``GET /healthz``.

The page talks only to its own origin (``/wh``, ``/data`` through the ingress,
``ws(s)://<location.host>/ws`` for live updates): nothing in it names a
cluster-internal service.

Caching: ``index.html`` (and ``/``) ``no-cache`` (always revalidated, so a new
release shows at once); the other assets ``max-age=300`` plus ETag /
Last-Modified revalidation. Security headers on every response: a strict
Content-Security-Policy (self only; websockets to the same host), nosniff,
no framing, no referrer.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings

STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class CacheHeaders:
    """Adds Cache-Control and the security headers to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"cache-control"]
                if path in ("/", "/index.html") or message["status"] >= 400:
                    cache = "no-cache"
                elif path == "/healthz":
                    cache = "no-store"
                else:
                    cache = "public, max-age=300"
                headers.append((b"cache-control", cache.encode()))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def healthz(request: Request) -> Response:
    return JSONResponse({})


def create_app(settings: Settings | None = None) -> ASGIApp:
    app = Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/", StaticFiles(directory=STATIC, html=True), name="static"),
    ])
    return CacheHeaders(app)
