"""``helm template``, cached: every distinct render is produced and parsed once.

:func:`render` returns :class:`~chartest.render.manifests.Manifests`, or raises
:class:`RenderError` carrying helm's stderr. Who renders is
:mod:`chartest.render.renderers`' business (the render engine, one long-running
process linking helm's library, or the helm CLI per call; the same output).

Each distinct render is parsed once and cached in its parsed form, as JSON
(successes and failures): in memory per process and on disk under
``<state>/cache/render`` (:class:`chartest.results.ResultCache`, as lint results
and Traefik's answers are), so pytest-xdist workers and reruns share it; a hit is
one ``json.loads`` that gives the caller fresh objects. The key is the sha256 of
the renderer, the chart's content, the values and the arguments; the chart's
digest is computed once per session (:func:`new_session`, called by the plugin
at session start; :func:`clear_memory_cache` after editing a chart in-process).
Disk writes are atomic (temp file plus ``os.replace``), so concurrent writers
are safe.

:func:`prefetch` starts renders in the background (see
:mod:`chartest.plugin.work_plan`, which queues the planned renders as the session
starts); :func:`render` waits for a started one, so each key renders once.

:func:`engine_answer` asks the render engine another question about a render
request (an engine op, e.g. template coverage's ``probes``), cached and
prefetched (``prefetch(..., op=...)``) exactly as renders are.

Every real render is counted: :func:`stats` in-process, and one line appended
to the file named by ``CHARTEST_HELM_COUNT_FILE`` when set (the benchmark sums
them across xdist workers).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .. import pins, state, tools
from ..results import ResultCache, json_native
from . import renderers
from .manifests import Manifests, Resource, parse_manifests

__all__ = ["render", "RenderError", "stats", "reset_stats", "chart_digest", "helm_binary",
           "clear_memory_cache", "new_session", "prefetch", "stop_prefetch", "render_differences",
           "add_observer", "remove_observer", "content_digest", "engine_answer"]

CACHE_FORMAT = renderers.RESULT_FORMAT * 100 + 2  # bump the last digit when the cached form changes
render_cache = ResultCache("render", version=CACHE_FORMAT)
_lock = threading.Lock()
_stats = {"helm_invocations": 0, "renders": 0}


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


def stats() -> dict[str, int]:
    """Counters of this process: real renders (``helm_invocations``), cache hits, render calls."""
    return {**_stats, "memory_hits": render_cache.memory_hits, "disk_hits": render_cache.disk_hits}


def reset_stats() -> None:
    for k in _stats:
        _stats[k] = 0
    render_cache.memory_hits = render_cache.disk_hits = render_cache.misses = 0


_session_digests: dict[Path, str] = {}  # chart dir or values file -> content digest, this session
_session_paths: dict[str, Path] = {}  # absolute path as given -> resolved, this session


_session_token = secrets.token_hex(8)  # names this session's digests to a render engine kept between sessions


def clear_memory_cache() -> None:
    """Forget every render and digest of this process (after editing a chart in-process)."""
    render_cache.clear_memory()
    new_session()


def new_session() -> None:
    """A new session sees chart edits made since the last one (the parsed renders stay: their
    keys carry the chart's digest)."""
    global _session_token
    _session_digests.clear()
    _session_paths.clear()
    _session_token = secrets.token_hex(8)


def chart_digest(chart_dir: Path) -> str:
    """sha256 over every file of the chart (relative path + content), dependencies included."""
    chart_dir = Path(chart_dir).resolve()
    h = hashlib.sha256()
    for p in _chart_files(chart_dir):
        h.update(str(p.relative_to(chart_dir)).encode() + b"\0")
        h.update(b"\0loop\0" if p.is_dir() else p.read_bytes() + b"\0")
    digest = h.hexdigest()
    _session_digests[chart_dir] = digest
    return digest


def resolved_path(path: str | os.PathLike) -> Path:
    """``Path(path).resolve()``, once per session and path (a stat per path component each time)."""
    given = os.path.join(os.getcwd(), path)  # absolute: a relative path depends on the cwd
    resolved = _session_paths.get(given)
    if resolved is None:
        resolved = _session_paths[given] = Path(given).resolve()
    return resolved


def _session_digest(path: Path, of_chart: bool) -> str:
    """The digest of a chart directory or values file, computed once per session."""
    digest = _session_digests.get(path)
    if digest is None:
        digest = chart_digest(path) if of_chart else hashlib.sha256(path.read_bytes()).hexdigest()
        _session_digests[path] = digest
    return digest


def content_digest(path: Path) -> str:
    """The content digest of a chart directory (every file) or of one file, once per session."""
    return _session_digest(path, of_chart=path.is_dir())


_NOT_CHART = {"__pycache__", ".pytest_cache", ".git"}


def _chart_files(chart_dir: Path) -> list[Path]:
    """Every file of the chart, sorted, as helm's loader walks it: symlinked directories followed,
    each file under every path that reaches it; a link back to a directory it is in (a loop helm
    cannot load) is listed itself, not walked. Not walked: caches (``.git``, ``__pycache__``,
    ``.pytest_cache``) and chartest's state directory (a project whose chart is its root keeps it
    there; hashing it would change the key with every render cached), unless the chart is inside
    it (coverage's instrumented copy)."""
    state_dir = state.state_dir()
    skip_state = not chart_dir.is_relative_to(state_dir)
    state_real = os.path.realpath(state_dir)
    files: list[Path] = []

    def walk(directory: Path, ancestors: frozenset[str]) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir():  # follows a symlink
                    real = os.path.realpath(path)
                    if entry.name in _NOT_CHART or (skip_state and real == state_real):
                        continue
                    if real in ancestors:
                        files.append(path)  # a loop: its presence is part of the chart
                        continue
                    walk(path, ancestors | {real})
                elif entry.is_file():
                    files.append(path)
            except OSError:
                continue  # gone, or a link to nowhere

    walk(chart_dir, frozenset({os.path.realpath(chart_dir)}))
    return sorted(files)


def _set_args(set: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    if not set:
        return []
    if isinstance(set, Mapping):
        return [f"{k}={v}" for k, v in set.items()]
    return list(set)


def _cache_key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


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
    """Render ``chart_dir`` as ``helm template`` does and parse the result.

    ``values`` (a dict) is applied after ``values_files``, and ``set`` (a mapping
    ``{"a.b": 1}`` or ``["a.b=1"]``) after both, like helm's own precedence.
    ``kube_version`` defaults to the pinned ``kubernetes.version``. Raises
    :class:`RenderError` with helm's stderr when helm fails. The result
    remembers its request (``Manifests.request``), so it can be rendered again.
    ``cache=False`` renders anew and caches nothing.
    """
    job = _Job(chart_dir, values, values_files, release, namespace, set, api_versions, kube_version,
               extra_args, keyed=cache)
    request = {"chart_dir": job.chart_dir, "values": values, "values_files": list(values_files),
               "release": release, "namespace": namespace, "set": set,
               "api_versions": list(api_versions), "kube_version": kube_version,
               "extra_args": list(extra_args)}
    for observer in list(_observers):
        observer(request)
    _stats["renders"] += 1
    if not cache:
        entry = _entry(_submit(job).result())
    else:
        entry = render_cache.get(job.key) or _from_prefetch(job.key) or job.produce()
    manifests = _manifests(entry)
    manifests.request = request
    return manifests


def _submit(job: "_Job") -> Future:
    """Every real render (and engine op) goes through here (the renderer's future of its result dict)."""
    if not job.op:  # ops are no renders: the counters are render() calls'
        _count_invocation()
    return renderers.chosen().submit(job)


def _entry(result: dict) -> dict:
    """The cached form of a renderer's result: the parsed documents (or helm's error), as JSON has them."""
    if "answer" in result:  # an engine op's
        return {"ok": result["ok"], "answer": result["answer"], "stage": result.get("stage", ""),
                "stderr": result.get("stderr", "")}
    if not result["ok"]:
        return {"ok": False, "stderr": result["stderr"], "argv": result.get("argv", [])}
    docs: list | None = result.get("docs")  # the render engine parses as parse_manifests does
    if docs is None:
        docs = [[r.source, dict(r)] for r in parse_manifests(result["stdout"])]
        if not json_native(docs):
            docs = None  # e.g. a timestamp PyYAML makes a date of: parsed again on every call
    return {"ok": True, "stdout": result["stdout"], "docs": docs}


def _manifests(data: dict) -> Manifests:
    if not data["ok"]:
        raise RenderError(data["stderr"], data.get("argv", ()))
    if data["docs"] is None:
        return parse_manifests(data["stdout"])
    resources = []
    for source, doc in data["docs"]:
        resource = Resource(doc)
        resource.source = source
        resources.append(resource)
    return Manifests(resources, raw=data["stdout"])


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
    """One render (or, with ``op``, an engine op on a render request): its arguments and
    (``keyed``) its cache key."""

    def __init__(self, chart_dir, values=None, values_files=(), release="release", namespace="default",
                 set=None, api_versions=(), kube_version=None, extra_args=(), keyed=True, op=None):
        self.chart_dir = resolved_path(chart_dir)
        # the content digest keys the cache (a packaged chart: its file's); with this session's token
        # it names the chart as loaded to the engine, which keeps it for the session (unkeyed, a
        # render anew, loads it anew too)
        self.chart_digest = _session_digest(self.chart_dir, of_chart=not self.chart_dir.is_file()) if keyed else ""
        self.loaded_as = f"{self.chart_digest}:{_session_token}" if keyed else ""
        self.values = values
        self.files = [resolved_path(f) for f in values_files]
        self.release, self.namespace = release, namespace
        self.set_args = _set_args(set)
        self.api_versions = list(api_versions)
        self.kube_version = kube_version or pins.get("kubernetes.version")
        self.extra_args = list(extra_args)
        self.op = op
        self.key = _cache_key({
            "format": CACHE_FORMAT,
            "renderer": renderers.chosen().identity(),
            "chart": self.chart_digest,
            "values": values or {},
            "values_files": [[str(f), _session_digest(f, of_chart=False)] for f in self.files],
            "release": release, "namespace": namespace, "set": self.set_args,
            "api_versions": self.api_versions, "kube_version": self.kube_version,
            "extra": self.extra_args,
            **({"op": op} if op else {}),
        }) if keyed else ""

    def produce(self) -> dict:
        """The cached entry (memory, then disk), else a new render's, cached both ways."""
        entry = render_cache.get(self.key)
        if entry is None:
            entry = self.store(_submit(self).result())
        return entry

    def store(self, result: dict) -> dict:
        entry = _entry(result)
        render_cache.put(self.key, entry)
        return entry


def engine_answer(op: str, chart_dir: str | os.PathLike, **kw: Any) -> dict | None:
    """The render engine's answer to ``op`` for the render request ``kw`` (keyword arguments of
    :func:`render`), cached by the request's render key and ``op``, and the prefetched one if
    :func:`prefetch` started it: ``{"ok", "answer", "stage", "stderr"}``. None where the engine
    cannot answer (not the renderer, not built, arguments it does not know, gone)."""
    try:
        job = _Job(chart_dir, **kw, op=op)
        return render_cache.get(job.key) or _from_prefetch(job.key) or job.produce()
    except Exception:  # noqa: BLE001 - no engine, or it died: the caller measures another way
        return None


# ---------------------------------------------------------------------------- prefetch

_prefetch: dict[str, Future] = {}
_executor: ThreadPoolExecutor | None = None


def prefetch(chart_dir: str | os.PathLike, requests: Iterable[Mapping[str, Any]], op: str | None = None) -> int:
    """Start rendering ``requests`` (keyword arguments of :func:`render`) in the background.

    Only renders missing from the caches are started, in the given order: to the
    render engine, :data:`PREFETCH_WINDOW` at a time, which answers while the
    session goes on (its results are parsed and cached as they come); through
    the CLI, on background threads. :func:`render` waits for a started one, so
    each key renders once, and renders a queued one itself at once.
    With ``op``, the engine's answers to that op start instead (:func:`engine_answer`; nothing
    where the engine does not run). Returns the number of renders started.
    """
    global _executor
    jobs: dict[str, _Job] = {}
    for kw in requests:
        try:
            job = _Job(chart_dir, **kw, op=op)
        except (TypeError, OSError, tools.MissingTool):
            continue  # a request from an older plan, or a values file that is gone: rendered on demand
        if job.key not in _prefetch and not render_cache.has(job.key):
            jobs.setdefault(job.key, job)
    if not jobs:
        return 0
    renderer = renderers.chosen()
    engine = renderer.name == "engine" and renderer.start()
    if op and not engine:
        return 0  # only the engine answers ops
    if not engine and _executor is None:
        _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="chartest-render")
    for key, job in jobs.items():
        future = _engine_prefetch(job) if engine else _executor.submit(job.produce)
        with _lock:
            _prefetch[key] = future
    return len(jobs)


# Prefetched renders sent to the engine at once: it answers in order, so a render a test waits
# for that is not prefetched (a chart copy, a new values set) waits behind at most these.
PREFETCH_WINDOW = 2 * (os.cpu_count() or 2)
_unsent: "collections.deque[tuple[_Job, Future]]" = collections.deque()
_in_flight = 0


def _engine_prefetch(job: _Job) -> Future:
    """Queue ``job`` for the engine; the result is parsed and cached as it arrives. Until it is
    sent, :func:`render` may cancel it and render it on demand (at once)."""
    stored: Future = Future()
    with _lock:
        _unsent.append((job, stored))
    _send_prefetches()
    return stored


def _send_prefetches() -> None:
    """Send queued prefetches while fewer than :data:`PREFETCH_WINDOW` are at the engine."""
    global _in_flight
    batch = []
    with _lock:
        while _unsent and _in_flight < PREFETCH_WINDOW:
            job, stored = _unsent.popleft()
            if stored.set_running_or_notify_cancel():  # False: render() took it over
                batch.append((job, stored))
                _in_flight += 1
    for job, stored in batch:
        try:
            _submit(job).add_done_callback(functools.partial(_prefetched, job, stored))
        except Exception as exc:  # noqa: BLE001 - render() renders it again and reports the error
            _prefetched(job, stored, None, exc)


def _prefetched(job: _Job, stored: Future, rendered: Future | None, error: Exception | None = None) -> None:
    global _in_flight
    try:
        if error is not None:
            raise error
        stored.set_result(job.store(rendered.result()))
    except Exception as exc:  # noqa: BLE001 - render() renders it again and reports the error
        stored.set_exception(exc)
    with _lock:
        _in_flight -= 1
    _send_prefetches()


def stop_prefetch() -> None:
    """Drop queued renders and wait for the running ones (at session end)."""
    global _executor
    with _lock:
        pending = list(_prefetch.values())
        _prefetch.clear()
        _unsent.clear()
    for future in pending:
        future.cancel()  # queued, not sent: nobody needs it now
    if _executor is not None:
        _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None
    for future in pending:
        if not future.cancelled():
            try:
                future.result(timeout=120)
            except Exception:  # noqa: BLE001 - nobody waits for it any more
                pass


def _from_prefetch(key: str) -> str | None:
    with _lock:
        future = _prefetch.pop(key, None)
    if future is None or future.cancel():
        return None  # not started, or queued but not started: the caller renders it now
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the caller renders it again and reports the error
        return None
