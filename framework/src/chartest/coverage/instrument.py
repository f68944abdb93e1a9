"""The instrumented copy of a chart and its probe map, made once per chart content.

The Go program in ``instrument/`` (built by :mod:`chartest.goprogram` into the
state directory, so it needs ``go`` once) copies the chart and rewrites every
template so that rendering it reports the probes it reached. The copy and its
``probes.json`` live under ``<state>/coverage/instrumented/<key>/``, keyed by the
chart's content and the instrumenter's own fingerprint: pytest-xdist workers
and later runs reuse it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import goprogram, state
from ..render.helm import chart_digest
from ..shell import run

PROGRAM = "chartest-instrument"
# the copy's form: bump when the copies' output changes meaning (the program's fingerprint already
# changes with its source); 2: an include output as it is keeps its markers in place
FORMAT = 2
REPORT_START = "{{/* chartest-coverage: report */}}"  # where a top-level template's report begins (main.go)


@dataclass(frozen=True)
class Probe:
    id: int
    file: str          # relative to the chart root: templates/api.yaml, charts/sub/templates/x.yaml
    line: int
    kind: str          # file | define | text | action | branch | group | stop
    group: int = 0     # a branch's construct (the probe of kind "group")
    what: str = ""     # if, else if, with, range, default, ternary, fail, required; a define's name
    branch: str = ""   # then, else, else (implicit), fallback, given, true, false
    lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class Template:
    file: str        # relative to the chart root
    helm_name: str   # helm's name for it: <chart>/templates/x.yaml
    rendered: str    # helm's name for its instrumented copy (NOTES.txt is renamed)

    @property
    def copy_file(self) -> str:
        """The instrumented copy's file, relative to the copy's root."""
        return self.file.rsplit("/", 1)[0] + "/" + self.rendered.rsplit("/", 1)[1]


@dataclass
class Instrumented:
    """An instrumented copy (``chart_dir``) of ``source`` and its probes."""

    source: Path
    chart_dir: Path
    chart: str
    probes: dict[int, Probe]
    templates: list[Template]
    skipped: list[str] = field(default_factory=list)

    @functools.cached_property
    def stop_probes(self) -> frozenset[int]:
        """The probes of ``fail`` and ``required``: where a render stops."""
        return frozenset(p.id for p in self.probes.values() if p.kind == "stop")

    def execution_order(self) -> list[str]:
        """The top-level templates' files in the order helm executes them (sortTemplates in
        helm's engine: deepest paths first, then names in reverse)."""
        ordered = sorted(self.templates, key=lambda t: (t.helm_name.count("/"), t.helm_name), reverse=True)
        return [t.file for t in ordered]

    def file_of(self, helm_name: str) -> str | None:
        """The template file helm names ``helm_name`` (in the chart or in the copy)."""
        return next((t.file for t in self.templates if helm_name in (t.helm_name, t.rendered)), None)

    def stopped_before(self, file: str) -> Path:
        """A variant of the copy where ``file`` and every template helm runs after it do not run
        (their defines stay): what a render that errors in ``file`` reached before it."""
        order = self.execution_order()
        stopped = set(order[order.index(file):])
        key = hashlib.sha256("\0".join(sorted(stopped)).encode()).hexdigest()[:16]
        variant = self.chart_dir.parent / "variants" / key
        if not variant.is_dir():
            tmp = Path(tempfile.mkdtemp(dir=self.chart_dir.parent, prefix=".variant-"))
            try:
                shutil.copytree(self.chart_dir, tmp / "chart")
                for t in self.templates:
                    if t.file in stopped:
                        path = tmp / "chart" / t.copy_file
                        path.write_text(path.read_text().split(REPORT_START)[0])
                variant.parent.mkdir(exist_ok=True)
                os.rename(tmp, variant)
            except OSError:
                if not variant.is_dir():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return variant / "chart"


def _program() -> Path:
    return goprogram.build(goprogram.source_dir("chartest.coverage", "instrument"), PROGRAM)


def instrument(chart_dir: str | os.PathLike, transparent: bool = False) -> Instrumented:
    """The instrumented copy of ``chart_dir`` (made now unless one exists for this content).

    ``transparent``: top-level templates output their own text (markers stripped) instead of
    their probes, so the copy must render exactly like the chart (self-tests check that).
    Raises :class:`chartest.tools.MissingTool` without ``go`` when the program is not built yet.
    """
    source = Path(chart_dir).resolve()
    program = _program()
    key = hashlib.sha256(f"{chart_digest(source)}:{program.name}:{transparent}:{FORMAT}".encode()).hexdigest()[:20]
    home = state.state_dir() / "coverage" / "instrumented" / key
    if not (home / "probes.json").is_file():
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{key}-"))
        try:
            argv = [program, "-chart", source, "-out", tmp / "chart"]
            if state.state_dir().is_relative_to(source):
                argv += ["-exclude", state.state_dir()]
            if transparent:
                argv.append("-transparent")
            (tmp / "probes.json").write_text(run(argv, stdout_only=True))
            try:
                os.rename(tmp, home)
            except OSError:
                if not (home / "probes.json").is_file():  # not a concurrent writer's copy: a real error
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(home.parent)
    os.utime(home)  # in use: not pruned
    return load(source, home)


def _prune(parent: Path, max_age: float = 24 * 3600) -> None:
    """Remove instrumented copies no session used for a day (every chart edit makes a new one)."""
    now = time.time()
    for old in parent.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > max_age:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def load(source: Path, home: Path) -> Instrumented:
    data = json.loads((home / "probes.json").read_text())
    probes = {p["id"]: Probe(id=p["id"], file=p["file"], line=p["line"], kind=p["kind"],
                             group=p.get("group", 0), what=p.get("what", ""), branch=p.get("branch", ""),
                             lines=tuple(p.get("lines") or ()))
              for p in data["probes"]}
    templates = [Template(t["file"], t["helm_name"], t["rendered"]) for t in data["templates"]]
    return Instrumented(source, home / "chart", data["chart"], probes, templates, list(data.get("skipped") or []))
