"""Slow steps with progress and timing on stderr, and failures that say what to do.

Plain text with optional colour (no dependency): the framework's cluster tier
and the bootstrap both report through :func:`step`.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Iterator

_COLOUR = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
_CODES = {"cyan": "36", "green": "32", "red": "31", "dim": "2", "yellow": "33", "bold": "1"}


def paint(text: str, *styles: str) -> str:
    if not _COLOUR or not styles:
        return text
    return "".join(f"\033[{_CODES[s]}m" for s in styles) + text + "\033[0m"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StepFailed(RuntimeError):
    """A named step failed; the message says which and what to do."""


@contextmanager
def step(title: str, hint: str = "") -> Iterator[None]:
    """Run a block as a named step: announce it, time it, explain a failure."""
    say(f"{paint('==>', 'bold', 'cyan')} {title} ...")
    started = time.monotonic()
    try:
        yield
    except StepFailed:
        raise
    except BaseException as exc:
        elapsed = time.monotonic() - started
        say(f"{paint('FAILED', 'bold', 'red')} {title} after {elapsed:.1f}s: {exc}")
        if isinstance(exc, Exception):
            message = f"step '{title}' failed: {exc}"
            if hint:
                message += f"\n  what to do: {hint}"
            raise StepFailed(message) from exc
        raise
    say(f"{paint('  ok', 'green')} {title} {paint(f'({time.monotonic() - started:.1f}s)', 'dim')}")


def skip(title: str, reason: str) -> None:
    """Report a step that had nothing to do (cached, already present)."""
    say(paint(f"  --  {title}: {reason}", "dim"))


def info(message: str) -> None:
    say(paint(f"      {message}", "dim"))
