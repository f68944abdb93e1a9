"""Which Chromium the browser fixture drives, and how (no pytest here: setup scripts use it too)."""

from __future__ import annotations

import os
from shutil import which

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_executable() -> str | None:
    """A system Chromium (``$CHARTEST_CHROMIUM``, Debian's package, ...), else None for Playwright's own."""
    for candidate in (os.environ.get("CHARTEST_CHROMIUM"), "/usr/bin/chromium", "chromium",
                      "chromium-browser", "google-chrome"):
        if candidate and (found := which(candidate)):
            return found
    return None
