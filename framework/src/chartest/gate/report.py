"""The gate's Markdown summary, read from the JUnit XML pytest wrote: what ran, what failed, timings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaseResult", "read_junit", "markdown_summary", "GATE_CHECKS"]

GATE_CHECKS = ("test_helm_lint", "test_chart_version", "test_upgrade_safety", "test_chart_package", "test_chart_push")


@dataclass
class CaseResult:
    name: str            # "checks::test_upgrade_safety[defaults]" or a test's classname::name
    outcome: str         # passed | failed | error | skipped
    seconds: float
    message: str = ""

    @property
    def group(self) -> str:
        module, _, test = self.name.partition("::")
        if test.split("[")[0] in GATE_CHECKS and (not module or module.endswith("gate.checks")):
            return "gate"  # the checks module lies outside the rootdir of a chart's repository: no classname
        parts = self.name.split("::")[0].split(".")
        for i, part in enumerate(parts):  # up to the test module: "tests.unit.test_x"
            if part.startswith("test_") or part.endswith("_test"):
                return ".".join(parts[: i + 1])
        return ".".join(parts) or "tests"


def read_junit(path: Path) -> list[CaseResult]:
    root = ET.parse(path).getroot()
    out = []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (el.get("message") or "") if tag == "skipped" else (el.text or el.get("message") or "")
                break
        out.append(CaseResult(name, outcome, float(case.get("time") or 0), message.strip()))
    return out


_ICON = {"passed": "pass", "failed": "**FAIL**", "error": "**ERROR**", "skipped": "skip"}


def markdown_summary(results: list[CaseResult], *, title: str, facts: list[tuple[str, str]],
                     total_seconds: float, exit_code: int) -> str:
    """One page a CI job can attach: the run's facts, a table per group, every failure in full."""
    counts = {k: sum(r.outcome == k for r in results) for k in _ICON}
    verdict = "PASSED" if exit_code == 0 else "FAILED"
    lines = [f"# {title}: {verdict}", ""]
    lines += [f"- {k}: {v}" for k, v in facts]
    lines += [f"- tests: {len(results)} ({', '.join(f'{n} {k}' for k, n in counts.items() if n)}), "
              f"{total_seconds:.1f} s in all (pytest exit status {exit_code})", ""]
    gate = [r for r in results if r.group == "gate"]
    others = [r for r in results if r.group != "gate"]
    if gate:
        lines += ["## Gate checks", "", "| check | result | seconds |", "|---|---|---|"]
        lines += [f"| `{r.name.partition('::')[2]}` | {_ICON[r.outcome]} | {r.seconds:.2f} |" for r in gate]
        lines.append("")
    if others:
        lines += ["## Test suites", "", "| module | passed | failed | skipped | seconds |", "|---|---|---|---|---|"]
        by: dict[str, list[CaseResult]] = {}
        for r in others:
            by.setdefault(r.group, []).append(r)
        for group, rs in by.items():
            lines.append(f"| `{group}` | {sum(r.outcome == 'passed' for r in rs)} | "
                         f"{sum(r.outcome in ('failed', 'error') for r in rs)} | "
                         f"{sum(r.outcome == 'skipped' for r in rs)} | {sum(r.seconds for r in rs):.2f} |")
        slow = sorted(others, key=lambda r: -r.seconds)[:5]
        lines += ["", "Slowest: " + ", ".join(f"`{r.name}` {r.seconds:.2f} s" for r in slow), ""]
    failed = [r for r in results if r.outcome in ("failed", "error")]
    if failed:
        lines += ["## Failures", ""]
        for r in failed:
            lines += [f"### `{r.name.lstrip(':')}`", "", "```", r.message[:4000], "```", ""]
    if not results:
        lines += ["No test ran: see the pytest output above.", ""]
    return "\n".join(lines)
