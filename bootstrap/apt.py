"""Debian packages, for hosts where the bootstrap may install them (root with apt-get)."""

from __future__ import annotations

import os
import shutil

from chartest.shell import run

_updated = False


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(*packages: str) -> None:
    """``apt-get install`` Debian packages, refreshing the package lists once per process
    (a fresh machine may have none)."""
    global _updated
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        run(["apt-get", "update", "-qq"], env=env)
        _updated = True
    run(["apt-get", "install", "-y", "-qq", *packages], env=env)
