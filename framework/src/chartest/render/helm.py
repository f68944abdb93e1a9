"""``helm template``, cached.

:func:`render` runs helm (see :mod:`chartest.tools`: configured, the state
directory's pinned one, else PATH) and returns
:class:`~chartest.render.manifests.Manifests`, or raises :class:`RenderError`
carrying helm's stderr. Results (successes and failures) are cached by the
sha256 of the chart directory's content, the values and the arguments: in
memory per process and on disk under ``<state>/cache/render``, so
pytest-xdist workers and reruns share them. Disk writes are atomic (temp file
plus ``os.replace``), so concurrent writers are safe.

:func:`prefetch` queues renders on background threads (see
:mod:`chartest.render.plan`, which uses it after a chart edit); :func:`render`
takes over a queued job or waits for a running one, so helm still runs once
per key.

Every real helm invocation is counted: :func:`stats` in-process, and one line
appended to the file named by ``CHARTEST_HELM_COUNT_FILE`` when set (the
benchmark sums them across xdist workers).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .. import pins, state, tools
from ..shell import env_with_tools
from .manifests import Manifests, parse_manifests

__all__ = ["render", "RenderError", "stats", "reset_stats", "chart_digest", "helm_binary",
           "clear_memory_cache", "prefetch", "stop_prefetch", "render_differences", "add_observer",
           "remove_observer"]

CACHE_FORMAT = 3  # bump whenever the way helm is called changes
_memory: dict[str, dict] = {}
_lock = threading.Lock()
_stats = {"helm_invocations": 0, "memory_hits": 0, "disk_hits": 0, "renders": 0}


class RenderError(RuntimeError):
    """``helm template`` failed; ``str(err)`` (and ``.stderr``) is helm's stderr."""

    def __init__(self, stderr: str, argv: Sequence[str] = ()):
        self.stderr = stderr.strip()
        self.argv = list(argv)
        super().__init__(self.stderr)


_observers: list[Callable[[dict], None]] = []


def add_observer(observer: Callable[[dict], None]) -> None:
    """Call ``observer(request)`` on every :func:`render` call, cached or not, before it renders.

    ``request`` is the dict :attr:`Manifests.request` carries (chart_dir, values, values_files,
    release, namespace, set, api_versions, kube_version, extra_args). Template coverage uses it
    to render an instrumented copy of the chart with exactly the values the tests used.
    """
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Callable[[dict], None]) -> None:
    if observer in _observers:
        _observers.remove(observer)


def helm_binary() -> Path:
    """The helm that renders (raises :class:`chartest.tools.MissingTool`, one line, without one)."""
    return Path(tools.find("helm"))


_helm_ids: dict[str, str] = {}


def _helm_identity() -> str:
    """Which helm renders, for the cache key: its path, size and mtime (stat'ed once per process)."""
    path = str(helm_binary())
    if path not in _helm_ids:
        st = os.stat(path)
        _helm_ids[path] = f"{path}:{st.st_size}:{st.st_mtime_ns}"
    return _helm_ids[path]


def stats() -> dict[str, int]:
    """Counters of this process: helm invocations, cache hits, render calls."""
    return dict(_stats)


def reset_stats() -> None:
    for k in _stats:
        _stats[k] = 0


def clear_memory_cache() -> None:
    _memory.clear()


_digest_memo: dict[str, tuple[tuple, str]] = {}


def chart_digest(chart_dir: Path) -> str:
    """sha256 over every file of the chart (relative path + content), dependencies included."""
    chart_dir = Path(chart_dir).resolve()
    files = sorted(p for p in chart_dir.rglob("*") if p.is_file() and not _outside_chart(p, chart_dir))
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    memo = _digest_memo.get(str(chart_dir))
    if memo and memo[0] == stamp:
        return memo[1]
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(chart_dir)).encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    digest = h.hexdigest()
    _digest_memo[str(chart_dir)] = (stamp, digest)
    return digest


_NOT_CHART = {"__pycache__", ".pytest_cache", ".git"}


def _outside_chart(path: Path, chart_dir: Path) -> bool:
    """Files that live in a chart's directory without being part of it: chartest's own state
    directory (a project whose chart is its root keeps it there; hashing it would change the key
    with every render cached) and Python/pytest/git caches."""
    state_dir = state.state_dir()
    if path.is_relative_to(state_dir) and not chart_dir.is_relative_to(state_dir):
        return True  # (a chart inside the state directory, like coverage's instrumented copy, is hashed)
    return bool(_NOT_CHART.intersection(path.relative_to(chart_dir).parts))


def _set_args(set: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    if not set:
        return []
    if isinstance(set, Mapping):
        return [f"{k}={v}" for k, v in set.items()]
    return list(set)


def _cache_key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _disk_path(key: str) -> Path:
    return state.cache_dir() / "render" / key[:2] / f"{key}.json"


def _read_disk(key: str) -> dict | None:
    try:
        with open(_disk_path(key)) as fh:
            data = json.load(fh)
        return data if data.get("format") == CACHE_FORMAT else None
    except (OSError, ValueError):
        return None


def _write_disk(key: str, data: dict) -> None:
    try:
        state.write_atomic(_disk_path(key), json.dumps(data))
    except OSError:
        pass  # a read-only cache only costs speed


def _count_invocation() -> None:
    with _lock:
        _stats["helm_invocations"] += 1
    count_file = os.environ.get("CHARTEST_HELM_COUNT_FILE")
    if count_file:
        fd = os.open(count_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"1\n")
        finally:
            os.close(fd)


def render(
    chart_dir: str | os.PathLike,
    values: Mapping[str, Any] | None = None,
    values_files: Sequence[str | os.PathLike] = (),
    release: str = "release",
    namespace: str = "default",
    set: Mapping[str, Any] | Iterable[str] | None = None,
    api_versions: Sequence[str] = (),
    kube_version: str | None = None,
    extra_args: Sequence[str] = (),
    cache: bool = True,
) -> Manifests:
    """Render ``chart_dir`` with ``helm template`` and parse the result.

    ``values`` (a dict) is applied after ``values_files``, and ``set`` (a mapping
    ``{"a.b": 1}`` or ``["a.b=1"]``) after both, like helm's own precedence.
    ``kube_version`` defaults to the pinned ``kubernetes.version``. Raises
    :class:`RenderError` with helm's stderr when helm fails. The result
    remembers its request (``Manifests.request``), so it can be rendered again.
    """
    job = _Job(chart_dir, values, values_files, release, namespace, set, api_versions, kube_version,
               extra_args)
    request = {"chart_dir": job.chart_dir, "values": values, "values_files": list(values_files),
               "release": release, "namespace": namespace, "set": set,
               "api_versions": list(api_versions), "kube_version": kube_version,
               "extra_args": list(extra_args)}
    for observer in list(_observers):
        observer(request)
    _stats["renders"] += 1
    if not cache:
        result = job.run_helm()
    elif (result := _memory.get(job.key)) is not None:
        _stats["memory_hits"] += 1
    else:
        result = _from_prefetch(job.key) or job.produce()
    if not result["ok"]:
        raise RenderError(result["stderr"], result.get("argv", ()))
    manifests = parse_manifests(result["stdout"])
    manifests.request = request
    return manifests


def render_differences(first: Manifests, second: Manifests) -> list[str]:
    """What differs between two renders of the same request, one line per resource and path."""
    import difflib

    import yaml

    def docs(ms: Manifests) -> dict[str, str]:
        return {f"{r.kind}/{r.name}": yaml.safe_dump(dict(r), sort_keys=True) for r in ms}

    a, b = docs(first), docs(second)
    out = [f"{ref}: only in one render" for ref in sorted(set(a) ^ set(b))]
    for ref in sorted(set(a) & set(b)):
        if a[ref] != b[ref]:
            changed = [line[1:].strip() for line in difflib.unified_diff(
                a[ref].splitlines(), b[ref].splitlines(), lineterm="", n=0)
                if line.startswith("+") and not line.startswith("+++")]
            out.append(f"{ref}: changes between renders: {'; '.join(changed[:5])}")
    return out


class _Job:
    """One ``helm template`` call: its arguments and its cache key."""

    def __init__(self, chart_dir, values=None, values_files=(), release="release", namespace="default",
                 set=None, api_versions=(), kube_version=None, extra_args=()):
        self.chart_dir = Path(chart_dir).resolve()
        self.values = values
        self.files = [Path(f).resolve() for f in values_files]
        self.release, self.namespace = release, namespace
        self.set_args = _set_args(set)
        self.api_versions = list(api_versions)
        self.kube_version = kube_version or pins.get("kubernetes.version")
        self.extra_args = list(extra_args)
        self.key = _cache_key({
            "format": CACHE_FORMAT,
            "helm": _helm_identity(),
            "chart": chart_digest(self.chart_dir),
            "values": values or {},
            "values_files": [[str(f), hashlib.sha256(f.read_bytes()).hexdigest()] for f in self.files],
            "release": release, "namespace": namespace, "set": self.set_args,
            "api_versions": self.api_versions, "kube_version": self.kube_version,
            "extra": self.extra_args,
        })

    def produce(self) -> dict:
        """The cached result (memory, then disk), else helm's, cached both ways."""
        result = _memory.get(self.key)
        if result is not None:
            return result
        result = _read_disk(self.key)
        if result is not None:
            _stats["disk_hits"] += 1
        else:
            result = self.run_helm()
            _write_disk(self.key, result)
        with _lock:
            _memory[self.key] = result
        return result

    def run_helm(self) -> dict:
        return _run_helm(self.chart_dir, self.values, self.files, self.release, self.namespace,
                         self.set_args, self.api_versions, self.kube_version, self.extra_args)


# ---------------------------------------------------------------------------- prefetch

_prefetch: dict[str, Future] = {}
_executor: ThreadPoolExecutor | None = None


def prefetch(chart_dir: str | os.PathLike, requests: Iterable[Mapping[str, Any]],
             workers: int | None = None) -> int:
    """Start rendering ``requests`` (keyword arguments of :func:`render`) in background threads.

    Only renders missing from the disk cache are queued, in the given order.
    :func:`render` then takes a queued job over itself (if no thread started it
    yet) or waits for the running one, so helm still runs once per key. Worth it
    after a chart edit, when every cached render is stale: helm runs on all
    cores while the tests run. Returns the number of renders queued.
    """
    global _executor
    jobs: dict[str, _Job] = {}
    for kw in requests:
        try:
            job = _Job(chart_dir, **kw)
        except (TypeError, OSError, tools.MissingTool):
            continue  # a request from an older plan, or a values file that is gone: rendered on demand
        if job.key not in _prefetch and job.key not in _memory and not _disk_path(job.key).exists():
            jobs.setdefault(job.key, job)
    if not jobs:
        return 0
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2,
                                       thread_name_prefix="chartest-render")
    with _lock:
        for key, job in jobs.items():
            _prefetch[key] = _executor.submit(job.produce)
    return len(jobs)


def stop_prefetch() -> None:
    """Drop queued renders and wait for the running ones (at session end)."""
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None
    _prefetch.clear()


def _from_prefetch(key: str) -> dict | None:
    with _lock:
        future = _prefetch.pop(key, None)
    if future is None or future.cancel():
        return None  # not queued, or queued but not started: the caller renders it now
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the caller renders it again and reports the error
        return None


def _run_helm(chart_dir, values, files, release, namespace, set_args, api_versions, kube_version,
              extra_args) -> dict:
    argv = [str(helm_binary()), "template", release, str(chart_dir), "--namespace", namespace,
            "--kube-version", kube_version]
    for v in api_versions:
        argv += ["--api-versions", v]
    for f in files:
        argv += ["--values", str(f)]
    tmp = None
    try:
        if values:
            # JSON, not YAML: helm's YAML 1.1 parser reads PyYAML's plain `y`/`n` as booleans
            fd, tmp = tempfile.mkstemp(prefix="chartest-values-", suffix=".json")
            with os.fdopen(fd, "w") as fh:
                json.dump(dict(values), fh)
            argv += ["--values", tmp]
        for s in set_args:
            argv += ["--set", s]
        argv += list(extra_args)
        _count_invocation()
        done = subprocess.run(argv, capture_output=True, text=True, env=env_with_tools(), timeout=120)
    finally:
        if tmp:
            os.unlink(tmp)
    shown = [a if a != tmp else "<values>" for a in argv]
    if done.returncode != 0:
        return {"format": CACHE_FORMAT, "ok": False, "stderr": done.stderr or done.stdout, "argv": shown}
    return {"format": CACHE_FORMAT, "ok": True, "stdout": done.stdout, "argv": shown}
