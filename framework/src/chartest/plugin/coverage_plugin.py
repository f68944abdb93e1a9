"""``--chart-cov``: template coverage of the chart under test over the whole pytest run.

Registered by the plugin when the ``chart_cov`` setting is on. Every process
(the controller, or each pytest-xdist worker) observes the renders of the chart
under test (:class:`chartest.coverage.Collector`) and measures them at session
end; workers write their data to ``<state>/coverage/runs/<run>/``, and the
controller merges it, writes the reports and applies ``chart_cov_fail_under``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .. import settings as settings_mod
from .. import state
from ..render import helm

if TYPE_CHECKING:
    from ..coverage import Collector, Coverage

PLUGIN_NAME = "chartest-chart-cov"
REPORT_TYPES = ("term", "lcov", "cobertura", "html")
DEFAULT_PATHS = {"lcov": "lcov.info", "cobertura": "cobertura.xml", "html": "html"}


def configure(config: pytest.Config) -> None:
    """Called from the plugin's ``pytest_configure``: register coverage when it is asked for."""
    s = settings_mod.of(config)
    if s.chart_cov and not config.option.collectonly:
        config.pluginmanager.register(ChartCoverage(config, s), PLUGIN_NAME)


def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


class ChartCoverage:
    """The plugin object of one process: instruments the chart, observes renders, reports (controller)."""

    def __init__(self, config: pytest.Config, s: settings_mod.Settings):
        self.config = config
        self.settings = s
        self.worker = _worker_id(config)
        self.run = config.workerinput["chartest_cov_run"] if self.worker else uuid.uuid4().hex[:12]
        self.error: str | None = None
        self.coverage: Coverage | None = None
        self.written: list[str] = []
        self.collector: Collector | None = None
        for report in s.chart_cov_report:
            if report.split(":", 1)[0] not in REPORT_TYPES:
                raise pytest.UsageError(f"chart_cov_report: unknown report {report!r} (one of {', '.join(REPORT_TYPES)})")
        from ..coverage import Collector, instrument  # only when asked for: the plugin loads fast

        if not (s.chart / "Chart.yaml").is_file():
            self.error = f"--chart-cov: no Chart.yaml in {s.chart} (chart setting, from {s.source('chart')})"
            return
        try:
            self.collector = Collector(instrument(s.chart))
        except Exception as exc:  # noqa: BLE001 - MissingTool (no go) or a template Go cannot parse: the run fails
            self.error = f"--chart-cov: cannot instrument {s.chart}: {str(exc).strip().splitlines()[-1]}"
            return
        helm.add_observer(self.collector)

    def runs_dir(self) -> Path:
        return state.state_dir() / "coverage" / "runs" / self.run

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """(xdist controller) Tell each worker where the run's data goes."""
        node.workerinput["chartest_cov_run"] = self.run

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.collector is None:
            if self.error and not self.worker:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        helm.remove_observer(self.collector)
        data = self.collector.finish()
        if self.worker:
            state.write_atomic(self.runs_dir() / f"{self.worker}.json", json.dumps(data))
            return
        datas = [data]
        for path in sorted(self.runs_dir().glob("*.json")):
            datas.append(json.loads(path.read_text()))
        shutil.rmtree(self.runs_dir(), ignore_errors=True)
        from ..coverage import Coverage
        from ..coverage.collect import merge

        total = merge(datas)
        self.coverage = Coverage(self.collector.inst, total["hits"], total["requests"], total["failed"],
                                 total["before_templates"], total["partial"])
        self._write_reports()
        if self.below_threshold() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def below_threshold(self) -> bool:
        threshold = self.settings.chart_cov_fail_under
        return (threshold is not None and self.coverage is not None
                and min(self.coverage.line_percent, self.coverage.branch_percent) < threshold)

    def _write_reports(self) -> None:
        assert self.coverage is not None
        rootdir = self.settings.rootdir
        for report in self.settings.chart_cov_report:
            kind, _, where = report.partition(":")
            if kind == "term":
                continue
            target = (rootdir / where) if where else state.state_dir() / "coverage" / "report" / DEFAULT_PATHS[kind]
            if kind == "html":
                target = self.coverage.html(target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                text = self.coverage.lcov(rootdir) if kind == "lcov" else self.coverage.cobertura(rootdir)
                target.write_text(text)
            self.written.append(f"{kind}: {target}")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.worker:
            return
        if self.error:
            terminalreporter.write_sep("-", self.error, red=True)
            return
        if self.coverage is None:
            return
        cov = self.coverage
        terminalreporter.write_sep("-", f"chart coverage: {cov.inst.chart} ({cov.requests} distinct renders)")
        if any(r.split(":", 1)[0] == "term" for r in self.settings.chart_cov_report):
            for line in cov.term():
                terminalreporter.write_line(line)
        for line in self.written:
            terminalreporter.write_line(f"chart coverage report {line}")
        threshold = self.settings.chart_cov_fail_under
        if threshold is not None:
            lowest = min(cov.line_percent, cov.branch_percent)
            if self.below_threshold():
                terminalreporter.write_line(f"FAIL: chart coverage {lowest:.2f}% (lower of lines and branches) is "
                                            f"below --chart-cov-fail-under={threshold:g}", red=True)
            else:
                terminalreporter.write_line(f"chart coverage {lowest:.2f}% reaches --chart-cov-fail-under={threshold:g}",
                                            green=True)
