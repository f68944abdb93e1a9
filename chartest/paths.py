"""Where the project keeps its state: one git-ignored directory, ``.state``.

Override with ``CHARTEST_STATE`` (e.g. a CI cache directory).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .versions import PROJECT_ROOT

STATE = Path(os.environ.get("CHARTEST_STATE", PROJECT_ROOT / ".state")).resolve()
BIN = STATE / "bin"                 # kind, helm, kubectl, and the Kubernetes binaries
BUILD = STATE / "build"             # wrapper modules, rootfs tarballs, build contexts
ARTIFACTS = STATE / "artifacts"     # per-test failure dumps, screenshots, junit
KUBECONFIG_DIR = STATE / "kube"     # one kubeconfig per kind cluster
CACHE = STATE / "cache"             # render cache, downloaded schemas


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temp file and ``os.replace``: readers
    (other xdist workers, a later run) never see a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def ensure(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
