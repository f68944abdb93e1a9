"""Files chartest writes: always under a state directory the user owns, never in the package.

The directory is the ``state_dir`` setting (default ``<rootdir>/.chartest``);
:func:`configure` is called once by the plugin, and scripts outside pytest may
call it themselves. Until then ``$CHARTEST_STATE`` or ``./.chartest`` is used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_state_dir: Path | None = None


def configure(directory: str | os.PathLike) -> Path:
    global _state_dir
    _state_dir = Path(directory).resolve()
    return _state_dir


def state_dir() -> Path:
    """Where chartest keeps caches, kubeconfigs and artifacts (the ``state_dir`` setting, once the
    plugin has read it): a place for files a suite generates and wants to keep between runs."""
    if _state_dir is not None:
        return _state_dir
    return Path(os.environ.get("CHARTEST_STATE") or ".chartest").resolve()


def cache_dir() -> Path:
    """Render cache, render plan, schema bundles."""
    return state_dir() / "cache"


def bin_dir() -> Path:
    """Where a bootstrap puts pinned tools (helm, kind, kubectl); looked up before PATH."""
    return state_dir() / "bin"


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
