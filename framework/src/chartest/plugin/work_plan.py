"""Remember what each test asked for, and start it ahead of the test in the next session.

Editing a template makes every cached render stale, so the next run would render
once per values set, one after another; a fresh clone has no cache at all. This
plugin records, per test id, the work a test asked for: its renders of the chart
under test (the ``render`` fixture's, the release gate's, its own), its ``helm
lint`` requests (:mod:`chartest.gate.lint`) and the routing tables it asked the
real Traefik about (``local_traefik``). As soon as a later session starts, what
its selected tests recorded and no cache holds is started: renders with
:func:`chartest.render.helm.prefetch` (the render engine renders them while
pytest collects and runs the tests); once collection has run, for the tests it
selected, Traefik for each configuration (:func:`chartest.routing.verdicts.prestart`)
and the lints on a background thread. Each test picks up its result, or does the
work itself if nothing got to it yet.

Records go to the state directory's cache (one file per chart, written by the
session's main process; pytest-xdist workers hand theirs over), and a later session
reads them there. The ``plan`` setting names a file of the repository as well:
read by every session (the cache's records of a test win), written only with
``--chartest-plan-update``. Committed, it gives fresh clones and CI the same head
start, as pytest-split's committed durations do. Its paths are relative to the
rootdir (or to the state directory, wherever it is), one test per line, in the
order the tests ran; tests that no longer exist are dropped when their file is
collected.

Nothing is started ahead for tests that have no record, nor under pytest-xdist,
whose workers already work in parallel.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .. import asked, state
from ..render import renderers
from ..render.helm import (add_observer, new_session, prefetch, remove_observer, resolved_path, stats,
                           stop_prefetch)

FORMAT = 2  # {"format": 2, "chart": ..., "tests": {test id: {kind: [request, ...]}}}
KINDS = ("render", "lint", "traefik")
PATH_FIELDS = ("chart", "values_files")  # written relative to the state directory or the rootdir


def plan_dir() -> Path:
    return state.cache_dir() / "render-plan"


def _chart_id(chart_dir: Path) -> str:
    return hashlib.sha256(str(Path(chart_dir).resolve()).encode()).hexdigest()[:12]


def _read(path: Path, root: Path, chart_dir: Path) -> dict[str, dict[str, list]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged or missing plan only costs speed
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            _absolute(root, data.get("chart", "")) != str(Path(chart_dir).resolve()):
        return {}  # an older form, or another chart's
    return {test_id: {kind: [_with_paths(root, r, _absolute) for r in requests]
                      for kind, requests in work.items() if kind in KINDS}
            for test_id, work in (data.get("tests") or {}).items()}


def _write(path: Path, root: Path, chart_dir: Path, plan: dict[str, dict[str, list]]) -> None:
    tests = {test_id: {kind: [_with_paths(root, r, _relative) for r in requests]
                       for kind, requests in sorted(work.items())}
             for test_id, work in plan.items()}  # in the order the tests ran: prefetched in that order
    body = ",\n".join(f"  {json.dumps(test_id)}: {json.dumps(work, sort_keys=True)}" for test_id, work in tests.items())
    text = (f'{{"format": {FORMAT}, "chart": {json.dumps(_relative(root, str(chart_dir)))}, "tests": {{\n'
            f"{body}\n}}}}\n")
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    try:
        state.write_atomic(path, text)
        path.chmod(0o644)  # a plan in the repository is an ordinary file (the temp file was 0600)
    except OSError:
        pass  # an unwritable plan only costs speed


STATE_TOKEN = "<state>"  # a path in the state directory, wherever this machine keeps it


def _relative(root: Path, path: str) -> str:
    for base, prefix in ((state.state_dir(), f"{STATE_TOKEN}/"), (root, "")):
        try:
            return prefix + Path(path).relative_to(base).as_posix()
        except ValueError:
            continue
    return path


def _absolute(root: Path, path: str) -> str:
    if path.startswith(f"{STATE_TOKEN}/"):
        return str(state.state_dir() / path[len(STATE_TOKEN) + 1:])
    return str((root / path).resolve()) if path else ""


def _with_paths(root: Path, request: dict, convert) -> dict:
    out = dict(request)
    for field in PATH_FIELDS:
        value = out.get(field)
        if isinstance(value, str):
            out[field] = convert(root, value)
        elif isinstance(value, list):
            out[field] = [convert(root, v) if isinstance(v, str) else v for v in value]
    return out


def _arg_path(config: pytest.Config, arg: str) -> str | None:
    """The file or directory a command-line argument names, relative to the rootdir as test ids
    are (``::`` selections reduced to their file); None outside the rootdir."""
    path = (Path(str(config.invocation_params.dir)) / arg.split("::")[0]).resolve()
    try:
        rel = path.relative_to(Path(str(config.rootpath))).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel


def _selected(config: pytest.Config) -> list[str]:
    """The paths this session runs (its arguments, else testpaths, else the rootdir)."""
    args = [a for a in config.args if not a.startswith("-")] or [str(config.rootpath)]
    return [rel for rel in (_arg_path(config, arg) for arg in args) if rel is not None]


def _partly_selected(config: pytest.Config) -> set[str]:
    """The files this session's arguments select tests of (``file.py::test``): not every test of
    theirs was collected, so the plan keeps the others."""
    return {rel for rel in (_arg_path(config, arg) for arg in config.args if "::" in arg) if rel is not None}


def _under(test_id: str, selected: list[str]) -> bool:
    path = test_id.split("::")[0]
    return any(not s or path == s or path.startswith(s + "/") for s in selected)


class WorkPlan:
    """The pytest plugin object: renders are noted through :func:`chartest.render.helm.add_observer`,
    lints through :mod:`chartest.asked`, routing tables by the routing fixtures (:meth:`note`)."""

    def __init__(self, config: pytest.Config, chart_dir: Path, plan_file: Path | None = None):
        self.config = config
        self.chart_dir = Path(chart_dir).resolve()
        self.plan_file = plan_file
        self.root = Path(str(config.rootpath))
        self.current: str | None = None
        self.recorded: dict[str, dict[str, list]] = {}  # test id -> kind -> requests
        self.collected: set[str] = set()  # every test id this session collected, deselected ones too
        self.queued: Counter[str] = Counter()
        self._planned: dict[str, dict[str, list]] = {}  # this session's tests' records, until collected

    # -- where ---------------------------------------------------------------------------------------
    def cache_file(self) -> Path:
        return plan_dir() / f"{_chart_id(self.chart_dir)}.json"

    def load(self) -> dict[str, dict[str, list]]:
        """Every recorded test of this chart: the plan file's, then the cache's over them."""
        plan = _read(self.plan_file, self.root, self.chart_dir) if self.plan_file else {}
        return plan | _read(self.cache_file(), self.root, self.chart_dir)

    # -- recording -----------------------------------------------------------------------------------
    def record(self, request: dict[str, Any]) -> None:
        """A :func:`chartest.render.helm.render` call (its observer): noted when it renders the chart
        under test (a fixture's, the release gate's, a test's own), with :func:`prefetch`'s keywords."""
        if Path(request.get("chart_dir", "")) != self.chart_dir:
            return  # another chart: a copy, a base ref's export, the coverage copy
        kw = {k: v for k, v in request.items() if k != "chart_dir" and (v or k not in ("set", "extra_args"))}
        kw["values_files"] = [str(resolved_path(f)) for f in kw.get("values_files") or ()]
        self.note("render", kw)

    def note(self, kind: str, request: dict[str, Any]) -> None:
        if self.current is None:
            return
        try:
            request = json.loads(json.dumps(request, default=str))
        except (TypeError, ValueError):
            return  # what does not survive JSON is done on demand
        if not self._portable(request):
            return  # a temporary chart or values file: gone by the next session
        done = self.recorded.setdefault(self.current, {}).setdefault(kind, [])
        if request not in done:
            done.append(request)

    def _portable(self, request: dict) -> bool:
        """Every path of ``request`` is inside the rootdir or the state directory."""
        for field in PATH_FIELDS:
            value = request.get(field)
            for path in [value] if isinstance(value, str) else value if isinstance(value, list) else ():
                if isinstance(path, str) and Path(path).is_absolute() and _relative(self.root, path) == path:
                    return False
        return True

    # -- hooks ---------------------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        new_session()
        add_observer(self.record)
        asked.listeners.append(self.note)
        under_xdist = hasattr(self.config, "workerinput") or self.config.pluginmanager.has_plugin("dsession")
        if under_xdist or not (self.chart_dir / "Chart.yaml").exists():
            return
        selected = _selected(self.config)
        self._planned = {test_id: work for test_id, work in self.load().items() if _under(test_id, selected)}
        renders = [r for work in self._planned.values() for r in work.get("render", [])]
        if renders:  # at once: the engine renders while pytest collects
            self.queued["render"] = prefetch(self.chart_dir, renders)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.collected.update(item.nodeid for item in items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Lints and Traefik for the tests collected (``-k`` and ``::`` selections count now), once
        collection has imported the tests (they may write the values files a lint reads)."""
        self.collected.update(item.nodeid for item in session.items)
        if not self._planned:
            return
        collected = [self._planned[item.nodeid] for item in session.items if item.nodeid in self._planned]
        self._planned = {}
        tables = [t for work in collected for t in work.get("traefik", [])]
        if tables:
            self.queued["Traefik start"] = _prestart_traefik(tables)
        lints = [r for work in collected for r in work.get("lint", [])]
        if lints:
            from ..gate import lint

            self.queued["lint"] = lint.prefetch(lints)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item.nodeid

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """An xdist worker's records and collected test ids, handed over at its end."""
        handed = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if handed:
            data = json.loads(handed)
            self.recorded.update(data["recorded"])
            self.collected.update(data["collected"])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        stop_prefetch()
        if "chartest.gate.lint" in sys.modules:  # a render-only session imports neither
            sys.modules["chartest.gate.lint"].stop_prefetch()
        if "chartest.routing.verdicts" in sys.modules:
            sys.modules["chartest.routing.verdicts"].stop_prestarted()
        remove_observer(self.record)
        if self.note in asked.listeners:
            asked.listeners.remove(self.note)
        if hasattr(self.config, "workerinput"):  # the controller writes
            self.config.workeroutput[WORKER_OUTPUT] = json.dumps(
                {"recorded": self.recorded, "collected": sorted(self.collected)})
            return
        if not self.recorded:
            return
        _write(self.cache_file(), self.root, self.chart_dir, self._updated(self.cache_file()))
        if self.plan_file and self.config.getoption("--chartest-plan-update"):
            _write(self.plan_file, self.root, self.chart_dir, self._updated(self.plan_file))

    def _updated(self, path: Path) -> dict[str, dict[str, list]]:
        """``path``'s records with this session's over them, without the tests that are gone: their
        file is gone, or was collected now without them."""
        files = {test_id.split("::")[0] for test_id in self.collected} - _partly_selected(self.config)
        plan = _read(path, self.root, self.chart_dir) | self.recorded
        return {test_id: work for test_id, work in plan.items()
                if test_id in self.collected or (test_id.split("::")[0] not in files
                                                 and (self.root / test_id.split("::")[0]).is_file())}

    def pytest_terminal_summary(self, terminalreporter) -> None:
        counts = stats()
        rendered = counts["helm_invocations"]
        if rendered:
            who = "the render engine" if renderers.chosen().name == "engine" else "helm template"
            why = f" (the engine is unavailable: {renderers.fallback_reason})" if renderers.fallback_reason else ""
            hits = counts["memory_hits"] + counts["disk_hits"]
            terminalreporter.write_line(f"chartest: {rendered} render{'s' if rendered != 1 else ''} by "
                                        f"{who}{why}; {hits} answered from the render cache")
        if self.queued["render"]:
            plural = "s" if self.queued["render"] != 1 else ""
            terminalreporter.write_line(
                f"chartest: prefetched {self.queued['render']} render{plural} in parallel (not in the render "
                "cache, e.g. after a chart edit)")
        others = [f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in self.queued.items() if kind != "render" and n]
        if others:
            terminalreporter.write_line(f"chartest: started ahead of their tests: {', '.join(others)}")


WORKER_OUTPUT = "chartest_plan"


def _prestart_traefik(tables: list[dict]) -> int:
    """The real Traefik for each recorded routing table whose configuration never answered."""
    from .. import tools
    from ..routing import verdicts
    from ..routing.corpus import generate
    from ..routing.table import RoutingTable

    by_config: dict[str, tuple[RoutingTable, bool]] = {}  # a test that asked the corpus asks it ahead
    for asked in tables:
        try:
            table = RoutingTable.from_manifests(asked.get("documents") or [],
                                                strict_prefix_matching=bool(asked.get("strict_prefix_matching")))
            key = verdicts.config_key(table)
        except (tools.MissingTool, OSError, ValueError, TypeError, KeyError, AttributeError):
            continue  # no Traefik here, or a table of an older plan: the test starts its own
        by_config[key] = (table, by_config.get(key, (table, False))[1] or bool(asked.get("corpus")))
    return sum(verdicts.prestart(table, generate(table) if corpus else None) for table, corpus in by_config.values())
