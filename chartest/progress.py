"""Steps with progress and timing on the terminal.

Slow work (downloads, Go builds, image builds, cluster creation) runs inside
:func:`step`, which prints what is happening, how long it took, and on failure
which step failed and what to do about it.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

console = Console(stderr=True, highlight=False, soft_wrap=True)


class StepFailed(RuntimeError):
    """A named step failed; the message says which and what to do."""


@contextmanager
def step(title: str, hint: str = "") -> Iterator[None]:
    """Run a block as a named step: announce it, time it, explain a failure."""
    console.print(f"[bold cyan]==>[/] {title} ...")
    started = time.monotonic()
    try:
        yield
    except StepFailed:
        raise
    except BaseException as exc:
        elapsed = time.monotonic() - started
        console.print(f"[bold red]FAILED[/] {title} after {elapsed:.1f}s: {exc}")
        if isinstance(exc, Exception):
            message = f"step '{title}' failed: {exc}"
            if hint:
                message += f"\n  what to do: {hint}"
            raise StepFailed(message) from exc
        raise
    console.print(f"[green]  ok[/] {title} [dim]({time.monotonic() - started:.1f}s)[/]")


def skip(title: str, reason: str) -> None:
    """Report a step that had nothing to do (cached, already present)."""
    console.print(f"[dim]  --  {title}: {reason}[/]")


def info(message: str) -> None:
    console.print(f"[dim]      {message}[/]")
