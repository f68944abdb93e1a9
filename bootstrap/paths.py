"""Where the bootstrap keeps what it builds: the repository's git-ignored ``.state``.

Override with ``CHARTEST_STATE`` (e.g. a CI cache directory). The framework's
state directory is pointed at the same place, so the pinned tools built into
``.state/bin`` are the ones chartest finds first.
"""

from __future__ import annotations

import os
from pathlib import Path

from chartest import state

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CHARTEST_STATE", REPO_ROOT / ".state")).resolve()
BIN = STATE / "bin"                 # kind, helm, kubectl, and the Kubernetes binaries
BUILD = STATE / "build"             # wrapper modules, rootfs tarballs, build contexts
IMAGES = REPO_ROOT / "images"       # one Dockerfile recipe per image kind

state.configure(STATE)


def ensure(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
