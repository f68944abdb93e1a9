"""``helm template`` with the pinned helm, cached.

:func:`render` runs the project's pinned helm binary (``chartest.paths.BIN``) and
returns :class:`~chartest.resources.Manifests`, or raises :class:`RenderError`
carrying helm's stderr. Results (successes and failures) are cached by the
sha256 of the chart directory's content, the values and the arguments: in
memory per process and on disk under ``chartest.paths.CACHE / "render"``, so
pytest-xdist workers and reruns share them. Disk writes are atomic (temp file
plus ``os.replace``), so concurrent writers are safe.

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
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import paths, versions
from .resources import Manifests, parse_manifests
from .shell import env_with_tools

__all__ = ["render", "RenderError", "stats", "reset_stats", "chart_digest", "helm_binary",
           "DEFAULT_API_VERSIONS", "clear_memory_cache"]

# API versions beyond the built-in ones that `.Capabilities.APIVersions` should report.
DEFAULT_API_VERSIONS: tuple[str, ...] = ("traefik.io/v1alpha1", "traefik.io/v1alpha1/IngressRoute",
                                         "monitoring.coreos.com/v1")

CACHE_FORMAT = 2  # bump whenever the way helm is called changes
_memory: dict[str, dict] = {}
_lock = threading.Lock()
_stats = {"helm_invocations": 0, "memory_hits": 0, "disk_hits": 0, "renders": 0}


class RenderError(RuntimeError):
    """``helm template`` failed; ``str(err)`` (and ``.stderr``) is helm's stderr."""

    def __init__(self, stderr: str, argv: Sequence[str] = ()):
        self.stderr = stderr.strip()
        self.argv = list(argv)
        super().__init__(self.stderr)


def helm_binary() -> Path:
    helm = paths.BIN / "helm"
    if not helm.exists():
        raise FileNotFoundError(
            f"{helm} is missing: run `python -c 'from chartest.toolchain import ensure_tool; ensure_tool(\"helm\")'`")
    return helm


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
    files = sorted(p for p in chart_dir.rglob("*") if p.is_file())
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


def _set_args(set: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    if not set:
        return []
    if isinstance(set, Mapping):
        return [f"{k}={v}" for k, v in set.items()]
    return list(set)


def _cache_key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _disk_path(key: str) -> Path:
    return paths.CACHE / "render" / key[:2] / f"{key}.json"


def _read_disk(key: str) -> dict | None:
    try:
        with open(_disk_path(key)) as fh:
            data = json.load(fh)
        return data if data.get("format") == CACHE_FORMAT else None
    except (OSError, ValueError):
        return None


def _write_disk(key: str, data: dict) -> None:
    target = _disk_path(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only cache only costs speed


def _count_invocation() -> None:
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
    release: str = "webhooks",
    namespace: str = "webhooks",
    set: Mapping[str, Any] | Iterable[str] | None = None,
    api_versions: Sequence[str] = DEFAULT_API_VERSIONS,
    kube_version: str | None = None,
    extra_args: Sequence[str] = (),
    cache: bool = True,
) -> Manifests:
    """Render ``chart_dir`` with ``helm template`` and parse the result.

    ``values`` (a dict) is applied after ``values_files``, and ``set`` (a mapping
    ``{"a.b": 1}`` or ``["a.b=1"]``) after both, like helm's own precedence.
    ``kube_version`` defaults to the pinned ``kubernetes.version``. Raises
    :class:`RenderError` with helm's stderr when helm fails.
    """
    chart_dir = Path(chart_dir).resolve()
    kube_version = kube_version or versions.get("kubernetes.version")
    files = [Path(f).resolve() for f in values_files]
    set_args = _set_args(set)
    payload = {
        "format": CACHE_FORMAT,
        "helm": versions.get("tools.helm"),
        "chart": chart_digest(chart_dir),
        "values": values or {},
        "values_files": [[str(f), hashlib.sha256(f.read_bytes()).hexdigest()] for f in files],
        "release": release, "namespace": namespace, "set": set_args,
        "api_versions": list(api_versions), "kube_version": kube_version, "extra": list(extra_args),
    }
    key = _cache_key(payload)
    _stats["renders"] += 1

    result = _memory.get(key) if cache else None
    if result is not None:
        _stats["memory_hits"] += 1
    elif cache and (result := _read_disk(key)) is not None:
        _stats["disk_hits"] += 1
        with _lock:
            _memory[key] = result
    else:
        result = _run_helm(chart_dir, values, files, release, namespace, set_args, api_versions,
                           kube_version, extra_args)
        if cache:
            with _lock:
                _memory[key] = result
            _write_disk(key, result)

    if not result["ok"]:
        raise RenderError(result["stderr"], result.get("argv", ()))
    return parse_manifests(result["stdout"])


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
