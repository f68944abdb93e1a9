"""pytest-xdist workers share one cluster: one run id for all workers, ``needs_whole_cluster``
tests on one worker, a lock that really serialises, and only the creating run owns a cluster."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from chartest.cluster import sharing

RECORDING_TESTS = """
    import json, os, pytest

    def _record(name):
        with open(os.environ["RECORD"], "a") as fh:
            fh.write(json.dumps({"test": name, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                                 "run": os.environ.get("CHARTEST_RUN_ID")}) + "\\n")

    @pytest.mark.needs_whole_cluster
    @pytest.mark.parametrize("i", range(6))
    def test_exclusive(i):
        _record(f"exclusive-{i}")

    @pytest.mark.parametrize("i", range(6))
    def test_shared(i):
        _record(f"shared-{i}")
"""


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_workers_share_one_run_id_and_whole_cluster_tests_share_one_worker(project, tmp_path, monkeypatch):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test(RECORDING_TESTS)
    runs = []
    for attempt in range(2):
        record = tmp_path / f"record-{attempt}.jsonl"
        monkeypatch.setenv("RECORD", str(record))
        project.run("-n", "2", "-p", "xdist").assert_outcomes(passed=12)
        runs.append(_records(record))
    for records in runs:
        assert {r["worker"] for r in records} == {"gw0", "gw1"}, "both workers must have run tests"
        assert len({r["run"] for r in records}) == 1, "every worker must see the controller's run id"
        exclusive = {r["worker"] for r in records if r["test"].startswith("exclusive")}
        assert len(exclusive) == 1, f"needs_whole_cluster tests ran on {sorted(exclusive)}"
    assert runs[0][0]["run"] != runs[1][0]["run"], "two runs must not share a run id"


def test_a_pytest_inside_a_pytest_does_not_inherit_its_run(project, tmp_path, monkeypatch):
    """A parent's run id in the environment (it owns a cluster) is not the inner run's: an inner
    xdist controller that inherited it deleted the parent's cluster at its end."""
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test(RECORDING_TESTS)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.setenv(sharing.RUN_ID_ENV, "the-parent-run")
    project.run("-n", "2", "-p", "xdist").assert_outcomes(passed=12)
    runs = {r["run"] for r in _records(record)}
    assert len(runs) == 1 and "the-parent-run" not in runs, runs


def test_an_explicit_dist_mode_is_kept(project, tmp_path, monkeypatch):
    """Only the default ``load`` becomes ``loadgroup``; a user's ``--dist each`` stays."""
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test(RECORDING_TESTS)
    monkeypatch.setenv("RECORD", str(tmp_path / "record.jsonl"))
    project.run("-n", "2", "-p", "xdist", "--dist", "each").assert_outcomes(passed=24)


def _hold(state_dir: str, log: str, hold: float) -> None:
    from chartest import state

    state.configure(state_dir)
    with sharing.locked("probe"):
        with open(log, "a") as fh:
            fh.write(f"{time.monotonic()} start\n")
        time.sleep(hold)
        with open(log, "a") as fh:
            fh.write(f"{time.monotonic()} end\n")


def test_the_lock_serialises_processes(tmp_path):
    log = tmp_path / "log"
    procs = [multiprocessing.get_context("spawn").Process(target=_hold, args=(str(tmp_path), str(log), 0.3))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    events = [line.split()[1] for line in sorted(log.read_text().splitlines(), key=lambda l: float(l.split()[0]))]
    assert events == ["start", "end"] * 3, f"critical sections overlapped: {events}"


def test_only_the_creating_run_owns_a_cluster(tmp_path, monkeypatch):
    from chartest import state

    monkeypatch.setattr(state, "_state_dir", tmp_path)
    monkeypatch.setenv(sharing.RUN_ID_ENV, "run-a")
    assert not sharing.owned_by_this_run("c1")
    sharing.claim("c1")
    assert sharing.owned_by_this_run("c1")
    monkeypatch.setenv(sharing.RUN_ID_ENV, "run-b")
    assert not sharing.owned_by_this_run("c1"), "a later run must not delete a cluster it did not create"
    monkeypatch.setenv(sharing.RUN_ID_ENV, "run-a")
    sharing.release_claim("c1")
    assert not sharing.owned_by_this_run("c1")
    assert os.environ[sharing.RUN_ID_ENV] == sharing.run_id() == "run-a"
