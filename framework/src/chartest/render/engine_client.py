"""The render engine's client: helm's own library in one long-running Go process.

``helm template`` spends most of each call starting helm. The engine
(``render/engine/*.go``, shipped as source) links helm's library at the pinned
version and renders exactly as ``helm template`` does, many times per process:
requests and responses are JSON lines over its stdin/stdout, answered in order.
It is built on first use by :mod:`chartest.goprogram` (the bootstrap of this
repository prebuilds it), so it needs ``go`` once; :func:`build` raises
:class:`~chartest.tools.MissingTool` without it.

One process per Python process: :func:`shared` starts it lazily and it ends
when this process closes its stdin (at exit).
"""

from __future__ import annotations

import atexit
import collections
import json
import subprocess
import threading
from concurrent.futures import Future
from pathlib import Path

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
    """One engine process; :meth:`submit` pipelines requests, a reader thread resolves them in order."""

    def __init__(self, binary: Path):
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=1 << 20)
        self._pending: collections.deque[tuple[int, Future]] = collections.deque()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name="chartest-render-engine", daemon=True)
        self._reader.start()

    def submit(self, request: dict) -> Future:
        """Send one request; the future resolves to the response dict (``ok``, ``stdout``/``stderr``)."""
        future: Future = Future()
        with self._write_lock:
            if self.proc.poll() is not None:
                raise EngineDied(f"the render engine exited ({self.proc.returncode})")
            self._next_id += 1
            line = json.dumps({**request, "id": self._next_id}).encode() + b"\n"
            self._pending.append((self._next_id, future))
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except OSError as exc:
                raise EngineDied(f"the render engine is gone: {exc}") from None
        return future

    def _read(self) -> None:
        for line in self.proc.stdout:
            response = json.loads(line)
            request_id, future = self._pending.popleft()
            if response.get("id") != request_id:
                future.set_exception(EngineDied("the render engine answered out of turn"))
                break
            future.set_result(response)
        while self._pending:  # the process ended: nobody waits forever
            self._pending.popleft()[1].set_exception(EngineDied("the render engine exited"))

    def close(self) -> None:
        with self._write_lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class _Shared:
    """This process's engine, built and started on first use (``shared()``)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.engine is not None and self.engine.proc.poll() is None

    def __call__(self) -> Engine:
        with self._lock:
            if not self.alive():
                self.engine = Engine(build())
                atexit.register(self.engine.close)
            return self.engine


shared = _Shared()
