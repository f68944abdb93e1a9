"""Remember which renders each test asks for, and prefetch them after a chart edit.

Editing a template makes every cached render stale, so the next run would render
once per values set, one after another. This plugin records, per test id,
the ``render()`` requests the test made (in ``<state>/cache/render-plan``). As soon
as a later session starts (before collection), the recorded requests of the tests
under its arguments that are not in the render cache are started with
:func:`chartest.render.helm.prefetch`: the render engine (or helm on background
threads) renders them while pytest collects and runs the tests, and each test
picks up its result (or renders it itself if nothing got to it yet).

Nothing is prefetched for tests that have no recorded plan (a fresh clone),
nor under pytest-xdist, whose workers already render in parallel.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from .. import state
from . import renderers
from .helm import new_session, prefetch, stats, stop_prefetch

def plan_dir() -> Path:
    return state.cache_dir() / "render-plan"


def _chart_id(chart_dir: Path) -> str:
    return hashlib.sha256(str(Path(chart_dir).resolve()).encode()).hexdigest()[:12]


def load_plan(chart_dir: Path) -> dict[str, list[dict]]:
    """Every recorded ``{test id: [render kwargs, ...]}`` for this chart, across worker files."""
    plan: dict[str, list[dict]] = {}
    for path in sorted(plan_dir().glob(f"{_chart_id(chart_dir)}-*.json")):
        try:
            plan.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a damaged plan only costs speed
    return plan


def save_plan(chart_dir: Path, worker: str, recorded: dict[str, list[dict]]) -> None:
    plan = load_plan(chart_dir) | recorded
    try:
        state.write_atomic(plan_dir() / f"{_chart_id(chart_dir)}-{worker}.json", json.dumps(plan))
    except OSError:
        pass  # an unwritable plan only costs speed


def _selected(config: pytest.Config) -> list[str]:
    """The paths this session runs (its arguments, else testpaths, else the rootdir), relative to
    the rootdir as test ids are; ``::`` selections are reduced to their file."""
    root = Path(str(config.rootpath))
    args = [a for a in config.args if not a.startswith("-")] or [str(root)]
    out = []
    for arg in args:
        path = Path(arg.split("::")[0])
        path = (Path(str(config.invocation_params.dir)) / path).resolve()
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            continue
        out.append("" if rel == "." else rel)
    return out


def _under(test_id: str, selected: list[str]) -> bool:
    path = test_id.split("::")[0]
    return any(not s or path == s or path.startswith(s + "/") for s in selected)


class RenderPlan:
    """The pytest plugin object; ``record()`` is called by the render fixtures."""

    def __init__(self, config: pytest.Config, chart_dir: Path):
        self.config = config
        self.chart_dir = chart_dir
        self.worker = getattr(config, "workerinput", {}).get("workerid", "main")
        self.current: str | None = None
        self.recorded: dict[str, list[dict]] = {}  # test id -> render kwargs
        self.queued = 0

    def record(self, request: dict[str, Any]) -> None:
        if self.current is None:
            return
        try:
            request = json.loads(json.dumps(request, default=str))
        except (TypeError, ValueError):
            return  # values that do not survive JSON are rendered on demand
        per_test = self.recorded.setdefault(self.current, [])
        if request not in per_test:
            per_test.append(request)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        new_session()
        under_xdist = hasattr(self.config, "workerinput") or self.config.pluginmanager.has_plugin("dsession")
        if under_xdist or not (self.chart_dir / "Chart.yaml").exists():
            return
        plan = load_plan(self.chart_dir)
        if not plan:
            return
        selected = _selected(self.config)
        self.queued = prefetch(self.chart_dir, [r for test_id, requests in plan.items()
                                                if _under(test_id, selected) for r in requests])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item.nodeid

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        stop_prefetch()
        if self.recorded:
            save_plan(self.chart_dir, self.worker, self.recorded)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        rendered = stats()["helm_invocations"]
        if rendered:
            who = "the render engine" if renderers.chosen().name == "engine" else "helm template"
            why = f" (the engine is unavailable: {renderers.fallback_reason})" if renderers.fallback_reason else ""
            terminalreporter.write_line(f"chartest: {rendered} render{'s' if rendered != 1 else ''} by "
                                        f"{who}{why}, {stats()['renders'] - rendered} from the render cache")
        if self.queued:
            plural = "s" if self.queued != 1 else ""
            terminalreporter.write_line(
                f"chartest: prefetched {self.queued} render{plural} in parallel (not in the render cache, "
                "e.g. after a chart edit)")
