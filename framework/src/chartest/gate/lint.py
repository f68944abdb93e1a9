"""``helm lint --strict``, once per values file, with findings that name file and line.

helm prints ``[ERROR] templates/: template: chart/templates/x.yaml:5:20: ...``
or ``[WARNING] templates/x.yaml: ... line 12 ...``; each finding keeps helm's
message and adds the file (relative to the chart) and line it points at, and
the values file it was linted with. ``--strict`` makes warnings fail too.

helm's answer is cached as renders are (:mod:`chartest.results`, ``<state>/cache/lint``),
keyed by the linter (the render engine's build, which links the pinned helm, or the helm
binary), the chart's content digest (once per session, as for renders), each values file's
path and content, the Kubernetes version and ``--strict``: a chart or values edit lints
again. Where the render engine runs, it lints too (helm's own ``pkg/action`` Lint, as
``cmd/helm/lint.go``, without starting helm per values set); else the helm CLI does.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .. import asked, pins, tools
from ..results import ResultCache, key_of
from ..shell import env_with_tools

__all__ = ["LintFinding", "LintResult", "helm_lint", "parse_lint_output", "lint_cache", "prefetch"]

lint_cache = ResultCache("lint", version=1)
stats = {"helm_lints": 0}  # real lints of this process (cache misses)

_LINE = re.compile(r"^\[(ERROR|WARNING|INFO)\]\s+([^:]*):\s?(.*)$")
_TEMPLATE_POS = re.compile(r"(?:^|[\s(])[^\s/:()]+/((?:templates|charts)/[^\s:()]+):(\d+)(?::\d+)?")
_YAML_LINE = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class LintFinding:
    severity: str            # ERROR | WARNING | INFO
    file: str                # relative to the chart, as helm names it ("templates/api.yaml", "Chart.yaml")
    line: int | None
    message: str
    values_file: str | None = None

    @property
    def fails(self) -> bool:
        """Under --strict, warnings fail the lint as errors do."""
        return self.severity in ("ERROR", "WARNING")

    def where(self, chart_dir: Path | str = "") -> str:
        name = self.values_file if self.file == "values.yaml" and self.values_file else \
            f"{Path(chart_dir) / self.file if chart_dir else self.file}"
        return f"{name}:{self.line}" if self.line else str(name)

    def __str__(self) -> str:
        with_values = f" (values: {self.values_file})" if self.values_file else ""
        return f"{self.where()}: [{self.severity}] {self.message}{with_values}"


@dataclass
class LintResult:
    chart_dir: Path
    values_file: str | None
    returncode: int
    output: str
    findings: list[LintFinding]

    @property
    def failures(self) -> list[LintFinding]:
        found = [f for f in self.findings if f.fails]
        if self.returncode != 0 and not found:  # helm failed without a finding we could parse
            found = [LintFinding("ERROR", "Chart.yaml", None, self.output.strip() or "helm lint failed",
                                 self.values_file)]
        return found

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        shown = self.values_file or "the chart's own values.yaml"
        lines = [f"helm lint --strict {self.chart_dir} with {shown}: {len(self.failures)} problem(s)"]
        lines += [f"  {f.where(self.chart_dir)}: [{f.severity}] {f.message}" for f in self.failures]
        return "\n".join(lines)


def parse_lint_output(text: str, values_file: str | None = None) -> list[LintFinding]:
    """The findings of ``helm lint`` output, continuation lines joined to their finding."""
    findings: list[list] = []
    for raw in text.splitlines():
        m = _LINE.match(raw.strip())
        if m:
            findings.append([m.group(1), m.group(2).strip(), m.group(3).strip()])
        elif findings and raw.strip() and not raw.startswith(("==>", "Error:")) and "chart(s) linted" not in raw:
            findings[-1][2] += " " + raw.strip()
    out = []
    for severity, file, message in findings:
        line = None
        pos = _TEMPLATE_POS.search(message)
        if pos:  # template errors point at "<chart>/templates/x.yaml:LINE:COL"
            file, line = pos.group(1), int(pos.group(2))
        else:
            yl = _YAML_LINE.search(message)
            line = int(yl.group(1)) if yl else None
        out.append(LintFinding(severity, file, line, message, values_file))
    return out


def helm_lint(chart_dir: str | Path, values_files: Sequence[str | Path] = (), *,
              kube_version: str | None = None, strict: bool = True, label: str | None = None,
              cache: bool = True) -> LintResult:
    """``helm lint [--strict]`` of ``chart_dir`` with ``values_files`` (applied in order), cached."""
    chart_dir = Path(chart_dir).resolve()  # a kept engine does not share this process's directory
    kube_version = kube_version or pins.get("kubernetes.version")
    files = [Path(f).resolve() for f in values_files]
    if cache:
        asked.tell("lint", {"chart": str(chart_dir), "values_files": [str(f) for f in files],
                            "kube_version": kube_version, "strict": strict})
        answer = _cached_answer(chart_dir, files, kube_version, strict)
    else:
        answer = _answer(chart_dir, files, kube_version, strict)
    shown = label or (", ".join(map(str, values_files)) if values_files else None)
    # findings are on stdout; stderr has helm's summary and Go's coalesce warnings
    return LintResult(chart_dir, shown, answer["returncode"], answer["stdout"] + answer["stderr"],
                      parse_lint_output(answer["stdout"], shown))


def _key(chart_dir: Path, files: list[Path], kube_version: str, strict: bool) -> str:
    from ..render import helm, renderers

    return key_of({"linter": renderers.chosen().identity(), "chart": str(chart_dir),
                   "digest": helm.content_digest(chart_dir),
                   "values_files": [[str(f), _digest(f)] for f in files],
                   "kube_version": kube_version, "strict": strict,
                   # helm lint takes its namespace from these, as `helm lint` does
                   "env": {k: os.environ.get(k) for k in ("HELM_NAMESPACE", "HELM_KUBECONTEXT", "KUBECONFIG")},
                   })


def _answer(chart_dir: Path, files: list[Path], kube_version: str, strict: bool) -> dict:
    stats["helm_lints"] += 1
    return _engine_lint(chart_dir, files, kube_version, strict) or _cli_lint(chart_dir, files, kube_version, strict)


def _cached_answer(chart_dir: Path, files: list[Path], kube_version: str, strict: bool) -> dict:
    """The stored answer, else the one a prefetch is producing, else helm's now (then stored)."""
    key = _key(chart_dir, files, kube_version, strict)
    with _in_flight_lock:
        producing = _in_flight.get(key)
        if producing is None:
            answer = lint_cache.get(key)
            if answer is not None:
                return answer
            producing = _in_flight[key] = Future()
            mine = True
        else:
            mine = False
    if not mine:
        return producing.result()
    try:
        answer = _answer(chart_dir, files, kube_version, strict)
        lint_cache.put(key, answer)
    except BaseException as exc:
        producing.set_exception(exc)
        raise
    else:
        producing.set_result(answer)
    finally:
        with _in_flight_lock:
            del _in_flight[key]
    return answer


def prefetch(requests: Iterable[dict]) -> int:
    """Lint these requests (``helm_lint``'s arguments as :mod:`chartest.asked` tells them) on a background
    thread, one after another, so the lints a session's tests will ask for run beside them; a test
    asking for one in progress waits for it. Returns how many were not stored already."""
    todo: dict[str, tuple[Path, list[Path], str, bool]] = {}
    for r in requests:
        files = [Path(f).resolve() for f in r.get("values_files") or ()]
        chart, kube_version, strict = Path(r["chart"]).resolve(), r.get("kube_version"), bool(r.get("strict", True))
        if not (chart / "Chart.yaml").is_file() or not all(f.is_file() for f in files):
            continue  # gone since it was noted: nothing to prefetch
        kube_version = kube_version or pins.get("kubernetes.version")
        key = _key(chart, files, kube_version, strict)
        if not lint_cache.has(key):
            todo[key] = (chart, files, kube_version, strict)
    if todo:
        global _thread
        _stop.clear()
        _thread = threading.Thread(target=_lint_all, args=(list(todo.values()),), name="chartest-lint-prefetch",
                                   daemon=True)
        _thread.start()
    return len(todo)


def stop_prefetch(wait: float = 0) -> None:
    """Lint nothing more in the background (the session ends); ``wait`` seconds at most for the
    lint in progress (a test that swaps the state directory must not see it land)."""
    _stop.set()
    if wait and _thread is not None:
        _thread.join(wait)


def _lint_all(todo: list[tuple[Path, list[Path], str, bool]]) -> None:
    for chart, files, kube_version, strict in todo:
        if _stop.is_set():
            return
        try:
            _cached_answer(chart, files, kube_version, strict)
        except Exception:  # noqa: BLE001 - the test asking for it lints again and reports
            pass


_in_flight: dict[str, Future] = {}  # lint key -> the answer being produced (by a test or the prefetch)
_in_flight_lock = threading.Lock()
_stop = threading.Event()
_thread: threading.Thread | None = None


def _digest(values_file: Path) -> str:
    """A values file's content digest, or "missing" (helm's lint then says which file is missing)."""
    from ..render import helm

    try:
        return helm.content_digest(values_file)
    except OSError:
        return "missing"  # helm's answer says so; once the file exists its content keys it


def _engine_lint(chart_dir: Path, files: list[Path], kube_version: str, strict: bool) -> dict | None:
    """The render engine's lint, or None where the engine does not run (the CLI lints)."""
    from ..render import renderers
    from ..render.engine_client import EngineDied, shared

    renderer = renderers.chosen()
    if renderer.name != "engine" or not renderer.start():
        return None
    try:
        response = shared.engine.submit({"op": "lint", "chart": str(chart_dir), "kube_version": kube_version,
                                         "strict": strict, "values_files": [str(f) for f in files]}).result()
    except EngineDied:
        return None
    return {"returncode": 0 if response["ok"] else 1, "stdout": response.get("stdout", ""),
            "stderr": response.get("stderr", "")}


def _cli_lint(chart_dir: Path, files: list[Path], kube_version: str, strict: bool) -> dict:
    argv = [tools.find("helm"), "lint", str(chart_dir), "--kube-version", kube_version]
    if strict:
        argv.append("--strict")
    for f in files:
        argv += ["--values", str(f)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env_with_tools(), timeout=120)
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
