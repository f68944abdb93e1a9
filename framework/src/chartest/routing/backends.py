"""Tiny local backends that answer with their own name: one per Service:port of a routing table.

Every answer carries ``X-Chartest-Backend: <service:port>`` and ``X-Chartest-Path:
<the raw path it received>``; a websocket upgrade is completed (101 with the RFC
6455 accept key) with the same headers, then the connection is closed. So a
real proxy in front of them tells, for each request, who served it and with
which path.

They run in ``chartest-echo`` (``routing/echo/main.go``, Go's net/http, built on
first use like the render engine): one process for all of them, so the other end
of each request the real Traefik forwards costs the Python process nothing. Where
it cannot be built (no ``go``), each is a threaded HTTP/1.1 server of this process.

Asked for (``certificate_dir``), the program also writes a throwaway TLS certificate
for the local Traefik's default store (:attr:`Backends.certificate`), which spares
Traefik generating an RSA key at every start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .. import goprogram, tools
from ..shell import CommandError

__all__ = ["Backends", "BACKEND_HEADER", "PATH_HEADER", "echo_program"]

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


ECHO = "chartest-echo"


def echo_source():
    return goprogram.source_dir("chartest.routing", "echo")


def echo_program():
    """The ``chartest-echo`` binary, built now unless built for this content (MissingTool without go);
    one build at a time in this process (Traefiks started ahead ask for it at once)."""
    with _building:
        return goprogram.build(echo_source(), ECHO)


_building = threading.Lock()


class Backends:
    """``with Backends(["api:80", "www:80"]) as b: b.url("api:80")``."""

    def __init__(self, names: list[str], in_process: bool = False, certificate_dir: str | None = None):
        self.names = list(dict.fromkeys(names))
        self.in_process = in_process  # True: this process's threads serve, even where Go could
        self.certificate_dir = certificate_dir
        self.certificate: tuple[str, str] | None = None  # (cert, key) files written into certificate_dir
        self._servers: dict[str, _Server] = {}
        self._program: subprocess.Popen | None = None
        self._urls: dict[str, str] = {}

    def start(self) -> "Backends":
        if not self.names:
            return self
        if not self.in_process:
            try:
                return self._start_program()
            except (tools.MissingTool, CommandError, OSError, ValueError):
                self.stop()  # no Go here, or the program failed: this process serves
        for name in self.names:
            server = _Server(("127.0.0.1", 0), _handler(name))
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"backend {name}", daemon=True).start()
            self._servers[name] = server
            self._urls[name] = f"http://127.0.0.1:{server.server_address[1]}"
        return self

    def _start_program(self) -> "Backends":
        flags = ["-certificate", self.certificate_dir] if self.certificate_dir else []
        self._program = subprocess.Popen([str(echo_program()), *flags, *self.names], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        urls = json.loads(self._program.stdout.readline() or b"{}")
        if set(urls) != set(self.names):
            raise ValueError(f"chartest-echo served {sorted(urls)}, not {self.names}")
        self._urls = urls
        if self.certificate_dir:
            self.certificate = (os.path.join(self.certificate_dir, "tls.crt"),
                                os.path.join(self.certificate_dir, "tls.key"))
        return self

    def url(self, name: str) -> str:
        return self._urls[name]

    def stop(self) -> None:
        """Stop every server at once: each takes up to its poll interval to notice."""
        if self._program is not None:
            self._program.stdin.close()  # it serves until its stdin closes
            try:
                self._program.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._program.kill()
                self._program.wait()
            self._program.stdout.close()
            self._program = None
        servers = list(self._servers.values())
        self._servers.clear()
        self._urls.clear()
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
