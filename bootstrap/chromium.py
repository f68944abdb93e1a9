"""A Chromium for the browser tests: Debian's package where we may install it,
else Playwright's own download (online machines)."""

from __future__ import annotations

import sys

from chartest.browser import chromium_executable
from chartest.progress import skip, step
from chartest.shell import run

from .apt import can_install, install as apt_install


def ensure() -> str:
    found = chromium_executable()
    if found:
        skip("chromium", found)
        return found
    if can_install():
        with step("install Debian's chromium", "`apt-get install chromium` by hand"):
            apt_install("chromium")
        return chromium_executable() or ""
    with step("install Playwright's Chromium", "`python -m playwright install chromium` by hand"):
        run([sys.executable, "-m", "playwright", "install", "chromium"], stream=True)
    return "playwright"
