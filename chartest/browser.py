"""A Chromium for the browser tests: Debian's package where we may install it,
else Playwright's own download (online machines)."""

from __future__ import annotations

import os
import shutil
import sys

from .cluster_fixtures import chromium_executable
from .progress import skip, step
from .shell import apt_install, run


def ensure() -> str:
    found = chromium_executable()
    if found:
        skip("chromium", found)
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        with step("install Debian's chromium", "`apt-get install chromium` by hand"):
            apt_install("chromium")
        return chromium_executable() or ""
    with step("install Playwright's Chromium", "`python -m playwright install chromium` by hand"):
        run([sys.executable, "-m", "playwright", "install", "chromium"], stream=True)
    return "playwright"
