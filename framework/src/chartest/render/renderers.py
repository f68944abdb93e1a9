"""Who renders a chart: the render engine (one long-running process) or ``helm template`` per call.

The ``render_engine`` setting picks: ``engine`` (always the engine; a failed
build fails the render), ``cli`` (the helm binary of :mod:`chartest.tools`,
once per render) or ``auto`` (the default: the engine where ``go`` is there to
build it and no helm binary is configured explicitly, else the CLI; a failed
build falls back to the CLI, and the run's summary says why). Both produce the
same result dict, so the cache above them does not care which one ran; the
differential test proves their output identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from .. import tools
from ..shell import CommandError, env_with_tools

MODES = ("auto", "engine", "cli")
RESULT_FORMAT = 4  # bump whenever a renderer's output changes shape

_mode: str | None = None
_chosen: "Renderer | None" = None
_lock = threading.Lock()
fallback_reason: str | None = None  # why ``auto`` uses the CLI although it wanted the engine


class Job(Protocol):
    """What a render needs (``chartest.render.helm._Job``)."""

    chart_dir: Path
    loaded_as: str  # the chart's content digest and session: the engine keeps it loaded by this ("": anew)
    values: Any
    files: list[Path]
    release: str
    namespace: str
    set_args: list[str]
    api_versions: list[str]
    kube_version: str
    extra_args: list[str]
    op: str | None  # an engine op on this render request (the engine's "probes"), not a render


class Renderer(Protocol):
    name: str

    def identity(self) -> str: ...

    def submit(self, job: Job) -> Future: ...


def configure(mode: str | None) -> None:
    """Use ``mode`` from now on (``None``: ``$CHARTEST_RENDER_ENGINE``, else ``auto``)."""
    global _mode, _chosen, fallback_reason
    if mode is not None and mode not in MODES:
        raise ValueError(f"render_engine must be one of {', '.join(MODES)}, not {mode!r}")
    with _lock:
        _mode, _chosen, fallback_reason = mode, None, None


def mode() -> str:
    configured = _mode or os.environ.get("CHARTEST_RENDER_ENGINE", "").strip() or "auto"
    if configured not in MODES:
        raise ValueError(f"CHARTEST_RENDER_ENGINE must be one of {', '.join(MODES)}, not {configured!r}")
    return configured


def chosen() -> "Renderer":
    """This process's renderer, decided once (building nothing yet)."""
    global _chosen
    with _lock:
        if _chosen is None:
            _chosen = _choose(mode())
        return _chosen


def _choose(wanted: str) -> "Renderer":
    if wanted == "cli":
        return CliRenderer()
    if wanted == "engine":
        return EngineRenderer(fallback=None)
    if _helm_configured():
        return CliRenderer()  # an explicitly named helm is the one that renders
    try:
        tools.find("go")
    except tools.MissingTool:
        return CliRenderer()
    return EngineRenderer(fallback=CliRenderer())


def _helm_configured() -> bool:
    return bool(tools._configured.get("helm") or os.environ.get("CHARTEST_HELM"))


def helm_argv(job: Job, values_file: str = "<values>") -> list[str]:
    """The ``helm template`` command line of ``job`` (the values dict as ``values_file``)."""
    argv = ["template", job.release, str(job.chart_dir), "--namespace", job.namespace,
            "--kube-version", job.kube_version]
    for v in job.api_versions:
        argv += ["--api-versions", v]
    for f in job.files:
        argv += ["--values", str(f)]
    if job.values:
        argv += ["--values", values_file]
    for s in job.set_args:
        argv += ["--set", s]
    return argv + list(job.extra_args)


def _result(ok: bool, text: str, job: Job) -> dict:
    if ok:
        return {"format": RESULT_FORMAT, "ok": True, "stdout": text}
    return {"format": RESULT_FORMAT, "ok": False, "stderr": text, "argv": ["helm", *helm_argv(job)]}


class EngineOnly(RuntimeError):
    """An engine op was asked of a renderer that is not the engine (or of an engine that is gone)."""


class CliRenderer:
    """``helm template`` once per render: the state directory's pinned helm, else PATH."""

    name = "cli"

    def __init__(self) -> None:
        self._identity: str | None = None

    def identity(self) -> str:
        """Which helm renders: its path, size and mtime (stat'ed once per process)."""
        if self._identity is None:
            path = tools.find("helm")
            st = os.stat(path)
            self._identity = f"helm:{path}:{st.st_size}:{st.st_mtime_ns}"
        return self._identity

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        try:
            if job.op:
                raise EngineOnly(f"helm template has no {job.op!r}: only the render engine answers it")
            future.set_result(self.render(job))
        except Exception as exc:  # noqa: BLE001 - the caller's .result() raises it
            future.set_exception(exc)
        return future

    def render(self, job: Job) -> dict:
        helm = tools.find("helm")
        tmp = None
        try:
            if job.values:
                # JSON, not YAML: helm's YAML 1.1 parser reads PyYAML's plain `y`/`n` as booleans
                fd, tmp = tempfile.mkstemp(prefix="chartest-values-", suffix=".json")
                with os.fdopen(fd, "w") as fh:
                    json.dump(dict(job.values), fh)
            done = subprocess.run([helm, *helm_argv(job, tmp or "")], capture_output=True, text=True,
                                  env=env_with_tools(), timeout=120)
        finally:
            if tmp:
                os.unlink(tmp)
        if done.returncode != 0:
            return _result(False, done.stderr or done.stdout, job)
        return _result(True, done.stdout, job)


# extra helm template flags the engine knows; anything else renders through the CLI
_ENGINE_SWITCHES = {"--include-crds": "include_crds", "--skip-tests": "skip_tests",
                    "--is-upgrade": "is_upgrade", "--no-hooks": "no_hooks",
                    "--skip-schema-validation": "skip_schema_validation"}
_ENGINE_LISTS = {"--set": "set", "--set-string": "set_string"}


def engine_request(job: Job) -> dict | None:
    """The engine's request for ``job``, or None when its extra arguments need the CLI."""
    request: dict[str, Any] = {
        "chart": str(job.chart_dir), "chart_key": job.loaded_as, "release": job.release,
        "namespace": job.namespace,
        "kube_version": job.kube_version, "api_versions": list(job.api_versions),
        "values_files": [str(f) for f in job.files],
        "values": json.dumps(dict(job.values)) if job.values else "",
        "set": list(job.set_args), "set_string": [], "documents": True}
    if job.op:
        request["op"] = job.op
    args = list(job.extra_args)
    while args:
        arg = args.pop(0)
        flag, eq, value = arg.partition("=")
        if flag in _ENGINE_SWITCHES and not eq:
            request[_ENGINE_SWITCHES[flag]] = True
        elif flag in _ENGINE_LISTS:
            if not eq:
                if not args:
                    return None
                value = args.pop(0)
            request[_ENGINE_LISTS[flag]].append(value)
        else:
            return None
    return request


class EngineRenderer:
    """The render engine; with a ``fallback``, a failed build or a dead process renders through it."""

    name = "engine"

    def __init__(self, fallback: CliRenderer | None):
        self.fallback = fallback
        self._cli = fallback or CliRenderer()
        self._identity: str | None = None
        self._started = False

    def identity(self) -> str:
        if self._identity is None:
            from .engine_client import identity

            self._identity = f"engine:{identity()}"
        return self._identity

    def start(self) -> bool:
        """Build and start the engine now; False where it fell back to the CLI (with ``fallback``)."""
        global fallback_reason
        from .engine_client import EngineDied, shared

        if fallback_reason is not None:
            return False
        if self._started and shared.alive():
            return True
        try:
            shared()
            self._started = True
            return True
        except (tools.MissingTool, CommandError, EngineDied, OSError) as exc:
            if self.fallback is None:
                raise
            fallback_reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            return False

    def submit(self, job: Job) -> Future:
        from .engine_client import EngineDied, shared

        request = engine_request(job)
        if request is None or not self.start():
            return self._cli.submit(job)
        try:
            pending = shared.engine.submit(request)
        except EngineDied:
            if self.fallback is None:
                raise
            return self.fallback.submit(job)
        if job.op:
            return _op_answer(pending, job.op)
        result: Future = Future()

        def finish(done: Future) -> None:
            try:
                response = done.result()
            except Exception as exc:  # noqa: BLE001 - EngineDied: render this one through the CLI
                if self.fallback is None:
                    result.set_exception(exc)
                else:
                    result.set_result(self.fallback.render(job))
                return
            answer = _result(response["ok"], response.get("stdout" if response["ok"] else "stderr", ""), job)
            if response.get("docs") is not None:
                answer["docs"] = response["docs"]  # the engine parsed it as Python would
            result.set_result(answer)

        pending.add_done_callback(finish)
        return result


def _op_answer(pending: Future, op: str) -> Future:
    """The engine's answer to an op: ``{"ok", "answer", "stage", "stderr"}`` (``answer`` is the
    response field named like the op); an engine that died fails it (no CLI answers ops)."""
    result: Future = Future()

    def finish(done: Future) -> None:
        try:
            response = done.result()
        except Exception as exc:  # noqa: BLE001 - EngineDied: the caller measures another way
            result.set_exception(EngineOnly(str(exc)))
            return
        result.set_result({"format": RESULT_FORMAT, "ok": response["ok"], "answer": response.get(op) or {},
                           "stage": response.get("stage", ""), "stderr": response.get("stderr", "")})

    pending.add_done_callback(finish)
    return result
