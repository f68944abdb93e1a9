"""Results of slow, deterministic work kept by content, as the render cache keeps renders.

A :class:`ResultCache` maps a key (the sha256 of everything the result depends on,
:func:`key_of`) to a JSON value, in memory per process and on disk under
``<state>/cache/<name>`` so reruns and pytest-xdist workers share it. Disk writes
are atomic (temp file plus ``os.replace``); an unreadable or foreign entry is a miss,
an unwritable cache only costs speed. ``memory_hits``, ``disk_hits`` and ``misses``
count what it saved.

Used for renders (:mod:`chartest.render.helm`), ``helm lint`` (:mod:`chartest.gate.lint`),
the upgrade comparison with the base ref (:mod:`chartest.gate.chart_gate`), the local
Traefik's answers (:mod:`chartest.routing.verdicts`) and schema verdicts
(:mod:`chartest.render.schemas`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from . import state

__all__ = ["ResultCache", "key_of", "json_native"]


def key_of(payload: Any) -> str:
    """The sha256 of ``payload`` as canonical JSON (sorted keys), and of chartest's version: a
    newer chartest may decide differently (a cache kept by CI outlives an upgrade)."""
    from . import __version__

    return hashlib.sha256(json.dumps([__version__, payload], sort_keys=True, default=str).encode()).hexdigest()


def json_native(node: Any) -> bool:
    """True if JSON gives ``node`` back equal and of the same types (str keys, no dates, ...): only
    such a value can be stored here, or stand for itself in a key."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and json_native(v) for k, v in node.items())
    if isinstance(node, list):
        return all(json_native(v) for v in node)
    return node is None or isinstance(node, (str, int, float))  # bool is an int


class ResultCache:
    """``get(key)`` / ``put(key, value)`` of JSON values, memory then ``<state>/cache/<name>``."""

    def __init__(self, name: str, version: int):
        self.name = name
        self.version = version  # bump when the stored form changes: older entries become misses
        self._memory: dict[str, str] = {}  # key -> the entry's JSON text (parsed per get: fresh objects)
        self._lock = threading.Lock()
        self.memory_hits = self.disk_hits = self.misses = 0

    def path(self, key: str) -> Path:
        return state.cache_dir() / self.name / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored (in memory, or a file on disk), without reading it."""
        return key in self._memory or self.path(key).exists()

    def get(self, key: str) -> Any | None:
        """The stored value (a fresh copy), or None."""
        with self._lock:
            text = self._memory.get(key)
        in_memory = text is not None
        if not in_memory:
            try:
                text = self.path(key).read_text()
            except OSError:
                text = None
        entry = None
        if text is not None:
            try:
                entry = json.loads(text)
            except ValueError:
                entry = None
        if not isinstance(entry, dict) or entry.get("version") != self.version or entry.get("key") != key:
            self.misses += 1
            return None
        with self._lock:
            self._memory[key] = text
        if in_memory:
            self.memory_hits += 1
        else:
            self.disk_hits += 1
        return entry["value"]

    def put(self, key: str, value: Any) -> None:
        text = json.dumps({"version": self.version, "key": key, "value": value})
        with self._lock:
            self._memory[key] = text
        try:
            state.write_atomic(self.path(key), text)
        except OSError:
            pass  # a read-only cache only costs speed

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()
