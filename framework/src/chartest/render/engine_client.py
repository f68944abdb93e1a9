"""The render engine's client: helm's own library in one long-running Go process.

``helm template`` spends most of each call starting helm. The engine
(``render/engine/*.go``, shipped as source) links helm's library at the pinned
version and renders exactly as ``helm template`` does, many times per process:
requests and responses are JSON lines over its stdin/stdout, answered in order.
It is built on first use by :mod:`chartest.goprogram` (the bootstrap of this
repository prebuilds it), so it needs ``go`` once; :func:`build` raises
:class:`~chartest.tools.MissingTool` without it.

:func:`shared` connects lazily. With the ``render_engine_keep`` setting above 0
(the default outside CI), the engine is kept between sessions: started detached,
listening on a unix socket in a directory only this user may enter (one per
engine build and helm environment), serving every pytest process that connects,
and exiting that many seconds after its last client left; a session then skips
the engine's start-up and its first, slower renders. With 0, each Python process
has its own engine, ending when this process closes its stdin (at exit).
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import BinaryIO

from .. import goprogram, pins

NAME = "chartest-render"


def helm_ldflags() -> str:
    """What helm's release builds stamp: its version, and the Kubernetes version of a plain
    ``helm template`` (``.Capabilities.KubeVersion``, else v1.20), here the pinned one."""
    major, minor = pins.kube_minor(pins.get("kubernetes.version")).split(".")
    return " ".join(["-s", "-w", f"-X helm.sh/helm/v3/internal/version.version={pins.get('tools.helm')}",
                     f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor={major}",
                     f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={minor}"])


def _source() -> Path:
    return goprogram.source_dir("chartest.render", "engine")


def _requires() -> dict[str, str]:
    return {"helm.sh/helm/v3": pins.get("tools.helm")}


def identity() -> str:
    """The engine's build identity (sources, helm version, link flags), without building it."""
    return f"{NAME}-{goprogram.fingerprint(_source(), _requires(), helm_ldflags())}"


def build() -> Path:
    """The engine binary, built now (minutes on a cold Go cache) unless built for this content."""
    return goprogram.build(_source(), NAME, _requires(), helm_ldflags())


class EngineDied(RuntimeError):
    """The engine process ended or answered out of turn; the caller falls back or reports."""


class Engine:
    """One connection to an engine: a child process's pipes, or the socket of an engine kept
    between sessions. :meth:`submit` pipelines requests, a reader thread resolves them in order."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO, *, process: subprocess.Popen | None = None,
                 connection: socket.socket | None = None):
        self.process, self.connection = process, connection
        self._reader_file, self._writer = reader, writer
        self._pending: collections.deque[tuple[int, Future]] = collections.deque()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._ended = False
        self._reader = threading.Thread(target=self._read, name="chartest-render-engine", daemon=True)
        self._reader.start()

    @classmethod
    def child(cls, binary: Path) -> "Engine":
        """An engine of this process's own, ending with it."""
        proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, bufsize=1 << 20)
        return cls(proc.stdout, proc.stdin, process=proc)

    @classmethod
    def kept(cls, binary: Path, idle_seconds: float) -> "Engine":
        """A connection to the engine this user keeps for ``binary`` and this helm environment,
        started (detached) if none answers; it exits ``idle_seconds`` after its last client."""
        path = socket_path(binary)
        connection = _connect(path)
        starting: subprocess.Popen | None = None
        started = 0.0
        deadline = time.monotonic() + 10
        while connection is None:
            exited = None if starting is None else starting.poll()
            if exited not in (None, 0):
                raise EngineDied(f"the render engine could not listen on {path} ({exited})")
            # none started yet, or the one started gave way (0) to an engine holding the socket's
            # lock that then did not answer (it was leaving): start one again
            if starting is None or (exited == 0 and time.monotonic() - started > 0.1):
                starting = subprocess.Popen(
                    [str(binary), "-listen", str(path), "-idle", f"{max(1, int(idle_seconds))}s"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                    start_new_session=True)
                started = time.monotonic()
            if time.monotonic() > deadline:
                raise EngineDied(f"the render engine did not listen on {path} within 10 s")
            time.sleep(0.005)
            connection = _connect(path)
        return cls(connection.makefile("rb", buffering=1 << 20), connection.makefile("wb", buffering=1 << 20),
                   connection=connection)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return not self._ended

    def submit(self, request: dict) -> Future:
        """Send one request; the future resolves to the response dict (``ok``, ``stdout``/``stderr``)."""
        future: Future = Future()
        with self._write_lock:
            if not self.alive():
                raise EngineDied("the render engine exited")
            self._next_id += 1
            line = json.dumps({**request, "id": self._next_id}).encode() + b"\n"
            self._pending.append((self._next_id, future))
            try:
                self._writer.write(line)
                self._writer.flush()
            except OSError as exc:
                raise EngineDied(f"the render engine is gone: {exc}") from None
        return future

    def _read(self) -> None:
        try:
            for line in self._reader_file:
                response = json.loads(line)
                request_id, future = self._pending.popleft()
                if response.get("id") != request_id:
                    future.set_exception(EngineDied("the render engine answered out of turn"))
                    break
                future.set_result(response)
        except (OSError, ValueError):
            pass  # the connection broke: what is pending fails below
        self._ended = True
        while self._pending:  # the engine ended: nobody waits forever
            self._pending.popleft()[1].set_exception(EngineDied("the render engine exited"))

    def close(self) -> None:
        with self._write_lock:
            try:
                self._writer.close()
            except OSError:
                pass
        if self.connection is not None:  # a kept engine serves on, and exits when idle
            try:
                self.connection.shutdown(socket.SHUT_RDWR)  # the reader's file holds the socket open
            except OSError:
                pass
            self.connection.close()
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def socket_path(binary: Path) -> Path:
    """Where the engine built as ``binary`` is kept for this user and helm environment (``HELM_*``
    variables change what helm does): a short path, as sockets allow ~100 bytes, in a directory
    only this user may enter."""
    helm_env = "\0".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                         if k.startswith("HELM_") or k == "KUBECONFIG")  # helm lint's namespace
    digest = hashlib.sha256(f"{Path(binary).resolve()}\0{helm_env}".encode()).hexdigest()[:20]
    directory = Path(tempfile.gettempdir()) / f"chartest-{os.getuid()}"
    path = directory / f"render-{digest}.sock"
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        raise EngineDied(f"{path} is too long for a unix socket: no kept render engine")
    directory.mkdir(mode=0o700, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise EngineDied(f"{directory} is not this user's alone: no kept render engine")
    return path


SOCKET_PATH_MAX = 103  # bytes of a unix socket's path: 107 on Linux, 103 on macOS


def _connect(path: Path) -> socket.socket | None:
    """A connection to the engine at ``path`` that answered a first request (an engine closing its
    listener when idle may still have accepted the connection; it would not answer)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(10)
        connection.connect(str(path))
        connection.sendall(b'{"id": 0}\n')  # no chart: answered at once with an error
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = connection.recv(1 << 16)
            if not chunk:
                raise ConnectionResetError("the render engine closed the connection")
            answer += chunk
        connection.settimeout(None)
    except OSError:
        connection.close()
        return None
    return connection


class _Shared:
    """This process's engine connection, made on first use (``shared()``): to an engine kept
    between sessions when ``keep_seconds`` > 0 (:func:`configure`), else to a child process."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.keep_seconds = 0.0
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.engine is not None and self.engine.alive()

    def __call__(self) -> Engine:
        with self._lock:
            if not self.alive():
                binary = build()
                self.engine = None
                if self.keep_seconds > 0 and hasattr(socket, "AF_UNIX"):
                    try:
                        self.engine = Engine.kept(binary, self.keep_seconds)
                    except (EngineDied, OSError):
                        pass  # no engine can be kept here: one of this process's own
                if self.engine is None:
                    self.engine = Engine.child(binary)
                atexit.register(self.engine.close)
            return self.engine


shared = _Shared()


def configure(keep_seconds: float) -> None:
    """How long an engine waits for the next session after its last one (0: one per process)."""
    shared.keep_seconds = float(keep_seconds)
