"""Work the framework was asked for, told to whoever listens.

The release gate's ``helm lint`` says here what it lints; the render plan
(:mod:`chartest.plugin.work_plan`) listens during a pytest session and records it per
test, to start it ahead of the test next time. A module of its own, with no
imports, so that telling costs nothing and listening imports nothing.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["listeners", "tell"]

listeners: list[Callable[[str, dict], None]] = []  # called with (kind, request)


def tell(kind: str, request: dict) -> None:
    for listen in list(listeners):
        listen(kind, request)
