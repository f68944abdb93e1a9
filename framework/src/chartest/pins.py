"""The pinned versions chartest was released with, read from its package data.

``versions.toml`` ships inside the package (in this repository it is a link to
the one file that pins every version), so a non-editable install knows the
helm, Kubernetes and Traefik versions it defaults to without any checkout.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().with_name("versions.toml")


@cache
def load(path: Path = VERSIONS_FILE) -> dict:
    """The parsed versions file (cached: it never changes during a run)."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def get(dotted: str, path: Path = VERSIONS_FILE) -> str:
    """One pinned version by dotted key, e.g. ``get("tools.helm")``."""
    node = load(path)
    for part in dotted.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError):
            raise KeyError(f"{dotted!r} is not pinned in {path.name}") from None
    if not isinstance(node, str):
        raise KeyError(f"{dotted!r} in {path.name} is a table, not a version")
    return node


def kube_minor(version: str) -> str:
    """``v1.34.4`` -> ``1.34``."""
    major, minor, *_ = version.lstrip("v").split(".")
    return f"{major}.{minor}"


def fingerprint(*keys: str, extra: bytes = b"") -> str:
    """A short content hash of some pinned versions (plus build inputs).

    Built artefacts carry it as a label so a rebuild happens exactly when a pin
    or a build input changes, and never otherwise.
    """
    digest = hashlib.sha256()
    for key in sorted(keys):
        digest.update(f"{key}={get(key)}\n".encode())
    digest.update(extra)
    return digest.hexdigest()[:16]
