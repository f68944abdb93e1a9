"""``python -m chartest gate``: the release gate as one command, one JUnit XML and one Markdown page.

    python -m chartest gate --offline                       # lint, version, upgrade safety
    python -m chartest gate --offline --tests tests/unit    # ... and the unit tier
    python -m chartest gate --base-ref origin/main -f ci-values.yaml --tests tests/unit --e2e tests/e2e
    python -m chartest gate --offline -- --image-registry registry.example:5000   # ... and push the chart there

One pytest run: the gate's checks (:mod:`chartest.gate.checks`: lint, version, upgrade
safety, ``helm package`` and, unless ``--offline``, ``helm push`` to an OCI registry) first, then
``--tests`` and, without ``--offline``, ``--e2e`` (which need a cluster; e2e
alone is ``pytest tests/e2e``). Settings come as in every chartest run
(option, else environment, else the pytest ini section of ./pyproject.toml
etc., else default): the chart, the base ref (default: the merge-base with
main/master, HEAD~1 on its tip), the values files. The report goes to
``--report-dir`` (default: ``<state>/artifacts/gate``): ``gate.xml`` (JUnit)
and ``gate.md``. The exit status is pytest's: 0 only when everything passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["add_parser", "run"]

INI_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def add_parser(sub) -> None:
    p = sub.add_parser("gate", help="release gate: helm lint, version bump, upgrade safety (+ your tests); "
                                    "one JUnit XML and a Markdown summary",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chart", default=None, help="chart directory (default: the chartest `chart` setting)")
    p.add_argument("--base-ref", default=None,
                   help="git ref to compare with (default: $CHARTEST_BASE_REF, ini chartest_base_ref, else the "
                        "merge-base of HEAD with main/master, HEAD~1 on its tip)")
    p.add_argument("-f", "--values", action="append", default=[],
                   help="values file to lint and upgrade with, each on its own (repeatable; default: the "
                        "`gate_values` setting)")
    p.add_argument("--tests", action="append", default=[], help="test path run in the same pytest (repeatable)")
    p.add_argument("--e2e", action="append", default=[],
                   help="test path that needs a cluster (repeatable; skipped with --offline)")
    p.add_argument("--offline", action="store_true", help="only what needs no cluster: lint, version, "
                                                          "upgrade safety, --tests")
    p.add_argument("--report-dir", default=None, help="where gate.xml and gate.md go "
                                                      "(default: <state>/artifacts/gate)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after `--`: more pytest arguments")
    p.set_defaults(func=run)


def _ini_file(cwd: Path) -> Path | None:
    for name in INI_FILES:
        p = cwd / name
        if not p.is_file():
            continue
        text = p.read_text(errors="replace")
        if name == "pyproject.toml" and "[tool.pytest.ini_options]" not in text:
            continue
        if name in ("tox.ini", "setup.cfg") and "[pytest]" not in text and "[tool:pytest]" not in text:
            continue
        return p
    return None


def _report_dir(args, cwd: Path) -> Path:
    if args.report_dir:
        return Path(args.report_dir).resolve()
    from ..routing.cli import ini_settings

    ini = ini_settings(cwd)
    state = os.environ.get("CHARTEST_STATE") or ini.get("state") or ".chartest"
    artifacts = os.environ.get("CHARTEST_ARTIFACTS") or ini.get("artifacts") or str(Path(state) / "artifacts")
    return (cwd / artifacts / "gate").resolve()


def _chart(args, cwd: Path) -> Path:
    from ..routing.cli import ini_settings

    chart = args.chart or os.environ.get("CHARTEST_CHART") or ini_settings(cwd).get("chart") or "chart"
    return (cwd / chart).resolve()


def _base_ref(args, cwd: Path, chart: Path) -> str | None:
    from ..routing.cli import ini_settings
    from .gitref import default_base_ref

    return (args.base_ref or os.environ.get("CHARTEST_BASE_REF") or ini_settings(cwd).get("base_ref")
            or default_base_ref(chart if chart.exists() else cwd))


def _image_registry(cwd: Path, extra: list[str]) -> str | None:
    from ..routing.cli import ini_settings

    for i, arg in enumerate(extra):
        if arg.startswith("--image-registry="):
            return arg.split("=", 1)[1]
        if arg == "--image-registry" and i + 1 < len(extra):
            return extra[i + 1]
    return os.environ.get("CHARTEST_IMAGE_REGISTRY") or ini_settings(cwd).get("image_registry")


def run(args) -> int:
    from .. import progress
    from .report import markdown_summary, read_junit

    cwd = Path.cwd()
    chart = _chart(args, cwd)
    if not (chart / "Chart.yaml").is_file():
        print(f"chartest gate: no Chart.yaml in {chart} (give --chart DIR or set CHARTEST_CHART)", file=sys.stderr)
        return 2
    base_ref = _base_ref(args, cwd, chart)
    report_dir = _report_dir(args, cwd)
    report_dir.mkdir(parents=True, exist_ok=True)
    junit, summary = report_dir / "gate.xml", report_dir / "gate.md"

    paths = [str(Path(__file__).with_name("checks.py")), *args.tests]
    skipped_e2e = list(args.e2e) if args.offline else []
    if not args.offline:
        paths += args.e2e
    argv = [sys.executable, "-m", "pytest", *paths, "--rootdir", str(cwd), "--chart", str(chart),
            f"--junitxml={junit}", "-o", "junit_family=xunit1", "-o", "junit_suite_name=chartest-gate", "-ra"]
    ini = _ini_file(cwd)
    if ini:
        argv += ["-c", str(ini)]
    if base_ref:
        argv += ["--base-ref", base_ref]
    for f in args.values:
        argv += ["--gate-values", str(Path(f).resolve())]
    extra = [a for a in args.pytest_args if a != "--"]
    argv += extra

    progress.info(f"gate: chart {chart}, base ref {base_ref or '(none)'}, "
                  f"{'offline' if args.offline else 'with e2e'}; report in {report_dir}")
    started = time.monotonic()
    env = {**os.environ, "CHARTEST_GATE_OFFLINE": "1" if args.offline else "0"}
    code = subprocess.run(argv, cwd=cwd, env=env).returncode
    elapsed = time.monotonic() - started
    results = read_junit(junit) if junit.is_file() else []
    facts = [("chart", str(chart)), ("base ref", base_ref or "(none: version and upgrade checks skip)"),
             ("values sets", ", ".join(["chart defaults", *args.values]) if args.values else
              "chart defaults (+ the gate_values setting's files)"),
             ("mode", "offline (lint, version, upgrade safety" + (", tests" if args.tests else "") + ")"
              if args.offline else "full"),
             ("ran", ", ".join(["gate checks", *paths[1:], *extra])),
             ("junit", str(junit))]
    facts.append(("package and push", "`helm package` + `helm push` to "
                  + ("the image_registry setting's registry" if _image_registry(cwd, extra) else
                     "a local OCI registry the gate starts" + (" (not with --offline)" if args.offline else ""))
                  + " (test_chart_package, test_chart_push)"))
    if skipped_e2e:
        facts.append(("not run (offline)", ", ".join(skipped_e2e) + " (run them with `pytest "
                      + " ".join(skipped_e2e) + "` against a cluster)"))
    elif not args.e2e:
        facts.append(("e2e", "not part of this run: the cluster tier runs with `pytest tests/e2e` "
                      "(or pass --e2e PATH)"))
    summary.write_text(markdown_summary(results, title="Release gate", facts=facts, total_seconds=elapsed,
                                        exit_code=code))
    failed = [r for r in results if r.outcome in ("failed", "error")]
    print(f"\nchartest gate: {'PASSED' if code == 0 else 'FAILED'} in {elapsed:.1f} s "
          f"({len(results)} tests, {len(failed)} failed); summary {summary}, JUnit {junit}")
    return code if code else 0
