"""Snapshot files of rendered manifests, with generated values masked.

A snapshot is the YAML of every resource of a render, sorted, with Secret data
and ``checksum/*`` annotations replaced by ``<masked>``. Before comparing, the
render is done a second time bypassing every cache: a template that renders
differently each time (``randAlphaNum``, ``now``) fails with the fields that
changed, instead of passing until the render cache is cleared.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any, Iterable

import pytest

from .. import state, yamlload
from .manifests import get_path

__all__ = ["Snapshot", "mask_manifests", "DEFAULT_MASKS", "MASK"]

MASK = "<masked>"
# (kind or "*", path) pairs whose values are generated and masked in snapshots.
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("Secret", "data"),
    ("Secret", "stringData"),
)
_CHECKSUM_KEY = re.compile(r"^checksum/")


def _mask_checksums(node: Any) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "annotations" and isinstance(v, dict):
                for ak in list(v):
                    if _CHECKSUM_KEY.match(str(ak)):
                        v[ak] = MASK
            else:
                _mask_checksums(v)
    elif isinstance(node, list):
        for item in node:
            _mask_checksums(item)


def mask_manifests(manifests: Iterable[dict], extra: Iterable[tuple[str, str]] = ()) -> list[dict]:
    """Copies of the manifests with generated values replaced by ``<masked>``:
    Secret data values, ``checksum/*`` annotations, and ``extra`` (kind, path) pairs."""
    out = []
    for r in manifests:
        d = copy.deepcopy(dict(r))
        _mask_checksums(d)
        for kind, path in (*DEFAULT_MASKS, *extra):
            if kind not in ("*", d.get("kind")):
                continue
            parent_path, _, leaf = path.rpartition(".")
            parent = get_path(d, parent_path, None) if parent_path else d
            if isinstance(parent, dict) and leaf in parent:
                if isinstance(parent[leaf], dict):
                    parent[leaf] = {k: MASK for k in parent[leaf]}
                else:
                    parent[leaf] = MASK
        out.append(d)
    return out


def _sorted(manifests: list[dict]) -> list[dict]:
    return sorted(manifests, key=lambda d: (d.get("kind", ""), (d.get("metadata") or {}).get("name", "")))


def _same(a: Any, b: Any) -> bool:
    """``a == b`` with the types of the YAML text kept: Python's ``==`` holds ``True == 1 == 1.0``,
    so a ``replicas: true`` snapshot would pass a render of ``replicas: 1``."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN is its own snapshot


def _dump(manifests: list[dict]) -> str:
    """The snapshot text of documents already in snapshot order (:func:`_sorted`)."""
    import yaml  # only a test that snapshots pays for it

    return "".join("---\n" + yaml.safe_dump(d, sort_keys=True, default_flow_style=False) for d in manifests)


def _load(text: str) -> list[Any] | None:
    """The documents of a snapshot file, or None when it is not YAML (it then differs)."""
    import yaml

    try:
        return [d for d in yamlload.load_all(text) if d is not None]
    except yaml.YAMLError:
        return None


class Snapshot:
    def __init__(self, directory: Path, update: bool, strict: bool):
        self.directory = directory
        self.update = update
        self.strict = strict

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.yaml"

    def assert_match(self, manifests: Iterable[dict], name: str, mask: Iterable[tuple[str, str]] = ()) -> None:
        """Compare ``manifests`` (masked) with ``__snapshots__/<name>.yaml``; see the module doc.

        The comparisons are of the documents, not of their YAML: PyYAML's emitter, the slow part
        of a snapshot, runs only to write a snapshot or to show a difference."""
        mask = tuple(mask)
        docs = _sorted(mask_manifests(manifests, mask))
        request = getattr(manifests, "request", None)
        if request is not None:
            from .helm import render

            again = _sorted(mask_manifests(render(**request, cache=False), mask))
            if not _same(again, docs):
                changed = [line for line in difflib.unified_diff(_dump(docs).splitlines(), _dump(again).splitlines(),
                                                                 lineterm="", n=0)
                           if line[:1] in "+-" and line[:3] not in ("+++", "---")]
                pytest.fail(f"snapshot {name}: the chart renders differently each time, so no snapshot can "
                            "hold; make these fields deterministic or mask them (mask=[(kind, path)]):\n  "
                            + "\n  ".join(changed[:20]), pytrace=False)
        target = self.path(name)
        if self.update or (not target.exists() and not self.strict):
            state.write_atomic(target, _dump(docs))
            return
        if not target.exists():
            pytest.fail(f"snapshot {target} is missing (CI=true: run `pytest --snapshot-update` "
                        "locally and commit it)", pytrace=False)
        old = target.read_text()
        if not _same(_load(old), docs):
            text = _dump(docs)
            diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                str(target), "rendered", n=2))
            lines = diff.splitlines()
            shown = "\n".join(lines[:200]) + (f"\n... {len(lines) - 200} more lines" if len(lines) > 200 else "")
            pytest.fail(f"render differs from snapshot {target.name} (run with --snapshot-update if "
                        f"intended):\n{shown}", pytrace=False)
