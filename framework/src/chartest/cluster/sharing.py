"""One cluster shared by every pytest-xdist worker of a run, and by runs side by side.

Each xdist worker runs the session fixtures itself, so without care two workers
would both create the kind cluster, both install the ingress controller, and
the first to finish would delete the cluster under the other. Here:

* a file lock under the state directory serialises the steps that must happen
  once (:func:`locked`);
* the run that creates a cluster writes its run id beside it
  (:func:`claim`); only that run deletes it, once, after its last test: the
  xdist controller at the session's end, or a run without workers at fixture
  teardown (:func:`owned_by_this_run`).

The run id is made by the process pytest starts first and inherited by the
workers it spawns (:data:`RUN_ID_ENV`).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .. import state

RUN_ID_ENV = "CHARTEST_RUN_ID"


def start_run() -> str:
    """A new run id for this process and the xdist workers it spawns afterwards."""
    os.environ[RUN_ID_ENV] = uuid.uuid4().hex
    return os.environ[RUN_ID_ENV]


def run_id() -> str:
    """This run's id, made once by the first process and inherited by xdist workers."""
    if not os.environ.get(RUN_ID_ENV):
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex
    return os.environ[RUN_ID_ENV]


def _path(kind: str, name: str) -> Path:
    path = state.state_dir() / "locks" / f"{kind}-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the state directory's lock ``name`` (blocking) for the block."""
    with open(_path("lock", name), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim(cluster: str) -> None:
    """Record that this run created ``cluster`` (call while holding its lock)."""
    state.write_atomic(_path("owner", cluster), run_id())


def owned_by_this_run(cluster: str) -> bool:
    owner = _path("owner", cluster)
    return owner.is_file() and owner.read_text().strip() == run_id()


def release_claim(cluster: str) -> None:
    _path("owner", cluster).unlink(missing_ok=True)
