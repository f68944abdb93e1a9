"""Line and branch coverage of a chart's templates from its probes and the probes hit.

A line is executable when a probe proves it ran (an action, the text and the
condition of a branch, a define's ``define`` line, a top-level template's text),
and covered when one of those probes was hit. Every ``if``, ``with`` and
``range`` has two branches (the body and the else, written or implicit), and
so have ``default`` (fallback taken or value given) and ``ternary``.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from xml.etree import ElementTree as ET

from .instrument import Instrumented, Probe


@dataclass
class FileCoverage:
    file: str
    lines: dict[int, int] = field(default_factory=dict)         # line -> hits (0: missed)
    branches: list[tuple[Probe, int]] = field(default_factory=list)
    defines: list[tuple[Probe, int]] = field(default_factory=list)

    @property
    def lines_covered(self) -> int:
        return sum(1 for h in self.lines.values() if h)

    @property
    def branches_covered(self) -> int:
        return sum(1 for _, h in self.branches if h)

    def missing_lines(self) -> list[int]:
        return sorted(line for line, h in self.lines.items() if not h)

    def missing_branches(self) -> list[Probe]:
        return [p for p, h in self.branches if not h]


def percent(covered: int, total: int) -> float:
    return 100.0 * covered / total if total else 100.0


def ranges(lines: list[int], executable: list[int]) -> str:
    """``3, 7-9``: runs of missed lines, joined across lines that are not executable."""
    out, run = [], []
    position = {line: i for i, line in enumerate(executable)}
    for line in lines:
        if run and position[line] == position[run[-1]] + 1:
            run.append(line)
        else:
            if run:
                out.append(run)
            run = [line]
    if run:
        out.append(run)
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in out)


class Coverage:
    """The coverage of ``inst``'s chart given ``hits`` (probe id -> renders that reached it)."""

    def __init__(self, inst: Instrumented, hits: Mapping[int, int], requests: int = 0, failed=(),
                 before_templates: int = 0, partial=()):
        self.inst = inst
        self.partial = list(partial)
        self.requests = requests
        self.before_templates = before_templates
        self.failed = list(failed)
        self.files: dict[str, FileCoverage] = {}
        for probe in inst.probes.values():
            if probe.kind in ("group", "stop"):
                continue
            fc = self.files.setdefault(probe.file, FileCoverage(probe.file))
            h = hits.get(probe.id, 0)
            for line in probe.lines:
                fc.lines[line] = max(fc.lines.get(line, 0), h)
            if probe.kind == "branch":
                fc.branches.append((probe, h))
            elif probe.kind == "define":
                fc.defines.append((probe, h))
        self.files = dict(sorted(self.files.items()))

    # -- totals ----------------------------------------------------------------
    @property
    def lines(self) -> tuple[int, int]:
        return (sum(f.lines_covered for f in self.files.values()), sum(len(f.lines) for f in self.files.values()))

    @property
    def branches(self) -> tuple[int, int]:
        return (sum(f.branches_covered for f in self.files.values()),
                sum(len(f.branches) for f in self.files.values()))

    @property
    def line_percent(self) -> float:
        return percent(*self.lines)

    @property
    def branch_percent(self) -> float:
        return percent(*self.branches)

    def uncalled_defines(self) -> list[Probe]:
        return [p for f in self.files.values() for p, h in f.defines if not h]

    # -- reports ---------------------------------------------------------------
    def term(self) -> list[str]:
        """The table ``--chart-cov-report=term`` prints, one template a row, missed lines and branches."""
        name_width = max([len("TOTAL"), *(len(f) for f in self.files)])
        head = f"{'Template':<{name_width}}  {'Lines':>5} {'Miss':>5} {'Line%':>6}  {'Branch':>6} {'BrMiss':>6} {'Br%':>6}  Missing"
        out = [head, "-" * len(head)]
        for name, f in self.files.items():
            executable = sorted(f.lines)
            missing = [ranges(f.missing_lines(), executable)] if f.missing_lines() else []
            missing += [f"{p.line}:{p.what}->{p.branch}" for p in f.missing_branches()]
            out.append(f"{name:<{name_width}}  {len(f.lines):>5} {len(f.lines) - f.lines_covered:>5} "
                       f"{percent(f.lines_covered, len(f.lines)):>5.1f}%  {len(f.branches):>6} "
                       f"{len(f.branches) - f.branches_covered:>6} {percent(f.branches_covered, len(f.branches)):>5.1f}%"
                       f"  {', '.join(missing)}")
        (lc, lt), (bc, bt) = self.lines, self.branches
        out.append("-" * len(head))
        out.append(f"{'TOTAL':<{name_width}}  {lt:>5} {lt - lc:>5} {self.line_percent:>5.1f}%  {bt:>6} {bt - bc:>6} "
                   f"{self.branch_percent:>5.1f}%")
        uncalled = self.uncalled_defines()
        if uncalled:
            out.append("defines never called: " + ", ".join(f"{p.what} ({p.file}:{p.line})" for p in uncalled))
        if self.inst.skipped:
            out.append("not measured (packaged subcharts): " + ", ".join(self.inst.skipped))
        if self.before_templates:
            out.append(f"{self.before_templates} render(s) failed before any template ran (values schema, "
                       "kubeVersion): nothing to count")
        if self.partial:
            out.append(f"{len(self.partial)} render(s) failed inside a template, counted up to that template "
                       f"(not inside it): {', '.join(sorted(set(self.partial)))}")
        if self.failed:
            out.append(f"{len(self.failed)} render(s) not measured, the instrumented copy failed: {self.failed[0]}")
        return out

    def _source(self, file: str) -> Path:
        return self.inst.source / file

    def _shown(self, file: str, base: Path | None) -> str:
        path = self._source(file)
        if base is not None:
            try:
                return os.path.relpath(path, base)
            except ValueError:
                pass
        return str(path)

    def lcov(self, base: Path | None = None) -> str:
        out = []
        for name, f in self.files.items():
            out += ["TN:", f"SF:{self._shown(name, base)}"]
            for p, h in f.defines:
                out.append(f"FN:{p.line},{p.what}")
            for p, h in f.defines:
                out.append(f"FNDA:{h},{p.what}")
            out += [f"FNF:{len(f.defines)}", f"FNH:{sum(1 for _, h in f.defines if h)}"]
            for index, (p, h) in enumerate(f.branches):
                out.append(f"BRDA:{p.line},{p.group},{index},{h if h else '-'}")
            out += [f"BRF:{len(f.branches)}", f"BRH:{f.branches_covered}"]
            out += [f"DA:{line},{h}" for line, h in sorted(f.lines.items())]
            out += [f"LF:{len(f.lines)}", f"LH:{f.lines_covered}", "end_of_record"]
        return "\n".join(out) + "\n"

    def cobertura(self, base: Path | None = None) -> str:
        (lc, lt), (bc, bt) = self.lines, self.branches
        root = ET.Element("coverage", {
            "line-rate": f"{percent(lc, lt) / 100:.4f}", "branch-rate": f"{percent(bc, bt) / 100:.4f}",
            "lines-covered": str(lc), "lines-valid": str(lt), "branches-covered": str(bc),
            "branches-valid": str(bt), "complexity": "0", "version": "chartest", "timestamp": str(int(time.time()))})
        ET.SubElement(ET.SubElement(root, "sources"), "source").text = str(base or self.inst.source)
        classes = ET.SubElement(ET.SubElement(ET.SubElement(root, "packages"), "package", {
            "name": self.inst.chart, "line-rate": f"{percent(lc, lt) / 100:.4f}",
            "branch-rate": f"{percent(bc, bt) / 100:.4f}", "complexity": "0"}), "classes")
        for name, f in self.files.items():
            cls = ET.SubElement(classes, "class", {
                "name": name, "filename": self._shown(name, base),
                "line-rate": f"{percent(f.lines_covered, len(f.lines)) / 100:.4f}",
                "branch-rate": f"{percent(f.branches_covered, len(f.branches)) / 100:.4f}", "complexity": "0"})
            methods = ET.SubElement(cls, "methods")
            for p, h in f.defines:
                m = ET.SubElement(methods, "method", {"name": p.what, "signature": "", "line-rate": "1" if h else "0",
                                                       "branch-rate": "1"})
                ET.SubElement(ET.SubElement(m, "lines"), "line", {"number": str(p.line), "hits": str(h)})
            lines = ET.SubElement(cls, "lines")
            by_line: dict[int, list[int]] = {}
            for p, h in f.branches:
                by_line.setdefault(p.line, []).append(h)
            for line, h in sorted(f.lines.items()):
                attrs = {"number": str(line), "hits": str(h), "branch": "false"}
                if line in by_line:
                    taken = sum(1 for x in by_line[line] if x)
                    attrs.update(branch="true", **{"condition-coverage":
                                                   f"{percent(taken, len(by_line[line])):.0f}% ({taken}/{len(by_line[line])})"})
                ET.SubElement(lines, "line", attrs)
        return '<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def html(self, directory: Path) -> Path:
        """An index and one annotated page per template under ``directory``; returns the index."""
        directory.mkdir(parents=True, exist_ok=True)
        style = ("<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{padding:2px 8px;"
                 "border-bottom:1px solid #ddd;text-align:right}td.l{text-align:left}pre{margin:0}"
                 ".hit{background:#dfd}.miss{background:#fdd}.part{background:#ffd}.n{color:#888}</style>")
        rows = []
        for name, f in self.files.items():
            page = name.replace("/", "__") + ".html"
            rows.append(f"<tr><td class=l><a href='{page}'>{html.escape(name)}</a></td><td>{len(f.lines)}</td>"
                        f"<td>{len(f.lines) - f.lines_covered}</td><td>{percent(f.lines_covered, len(f.lines)):.1f}%</td>"
                        f"<td>{len(f.branches)}</td><td>{len(f.branches) - f.branches_covered}</td>"
                        f"<td>{percent(f.branches_covered, len(f.branches)):.1f}%</td></tr>")
            (directory / page).write_text(self._html_page(name, f, style))
        (lc, lt), (bc, bt) = self.lines, self.branches
        index = directory / "index.html"
        index.write_text(
            f"<!doctype html><meta charset=utf-8><title>{html.escape(self.inst.chart)} template coverage</title>{style}"
            f"<h1>{html.escape(self.inst.chart)}: lines {self.line_percent:.1f}%, branches {self.branch_percent:.1f}%</h1>"
            "<table><tr><th class=l>Template</th><th>Lines</th><th>Miss</th><th>Line%</th><th>Branches</th>"
            f"<th>Miss</th><th>Branch%</th></tr>{''.join(rows)}<tr><th class=l>TOTAL</th><th>{lt}</th><th>{lt - lc}</th>"
            f"<th>{self.line_percent:.1f}%</th><th>{bt}</th><th>{bt - bc}</th><th>{self.branch_percent:.1f}%</th></tr></table>")
        return index

    def _html_page(self, name: str, f: FileCoverage, style: str) -> str:
        try:
            text = self._source(name).read_text().splitlines()
        except OSError:
            text = []
        notes: dict[int, list[str]] = {}
        for p, h in f.branches:
            notes.setdefault(p.line, []).append(f"{p.what} → {p.branch}: {'taken' if h else 'NEVER'}")
        rows = []
        for number, source in enumerate(text, 1):
            cls = ""
            if number in f.lines:
                cls = "hit" if f.lines[number] else "miss"
                if cls == "hit" and any("NEVER" in n for n in notes.get(number, ())):
                    cls = "part"
            title = html.escape("; ".join(notes.get(number, ())))
            rows.append(f"<tr class='{cls}' title='{title}'><td class=n>{number}</td>"
                        f"<td class=l><pre>{html.escape(source)}</pre></td><td class=l>{title}</td></tr>")
        return (f"<!doctype html><meta charset=utf-8><title>{html.escape(name)}</title>{style}"
                f"<p><a href='index.html'>index</a></p><h1>{html.escape(name)}</h1><table>{''.join(rows)}</table>")
