"""Tiny local backends that answer with their own name: one per Service:port of a routing table.

Each is a threaded HTTP/1.1 server on a free loopback port. Every answer
carries ``X-Chartest-Backend: <service:port>`` and ``X-Chartest-Path: <the
raw path it received>``; a websocket upgrade is completed (101 with the RFC
6455 accept key) with the same headers, then the connection is closed. So a
real proxy in front of them tells, for each request, who served it and with
which path.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Backends", "BACKEND_HEADER", "PATH_HEADER"]

BACKEND_HEADER = "X-Chartest-Backend"
PATH_HEADER = "X-Chartest-Path"
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _handler(name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:  # quiet
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.headers.get("Upgrade", "").lower() == "websocket":
                key = self.headers.get("Sec-WebSocket-Key", "")
                accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.send_header(BACKEND_HEADER, name)
                self.send_header(PATH_HEADER, self.path.split("?", 1)[0])
                self.end_headers()
                self.close_connection = True
                return
            body = name.encode()
            self.send_response(200)
            self.send_header(BACKEND_HEADER, name)
            self.send_header(PATH_HEADER, self.path.split("?", 1)[0])
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Backends:
    """``with Backends(["api:80", "www:80"]) as b: b.url("api:80")``."""

    def __init__(self, names: list[str]):
        self.names = list(dict.fromkeys(names))
        self._servers: dict[str, _Server] = {}

    def start(self) -> "Backends":
        for name in self.names:
            server = _Server(("127.0.0.1", 0), _handler(name))
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"backend {name}", daemon=True).start()
            self._servers[name] = server
        return self

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._servers[name].server_address[1]}"

    def stop(self) -> None:
        """Stop every server at once: each takes up to its poll interval to notice."""
        servers = list(self._servers.values())
        self._servers.clear()
        stopping = [threading.Thread(target=server.shutdown) for server in servers]
        for thread in stopping:
            thread.start()
        for thread, server in zip(stopping, servers):
            thread.join()
            server.server_close()

    def __enter__(self) -> "Backends":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
