"""The plugin's footprint: a render-only run imports no cluster client and starts fast, writes
nothing into the installed package, and binds pytest-helm-charts' kube_config to chartest's cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import chartest

PACKAGE = Path(chartest.__file__).resolve().parent


def test_render_only_run_does_not_import_kubernetes(project):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        import sys

        def test_render(render, validate_schemas, assert_restricted, snapshot):
            m = render()
            assert_restricted(m)
            snapshot.assert_match(m, "m")
            loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("kubernetes", "pykube"))
            assert not loaded, loaded
            assert "chartest.cluster.kind" not in sys.modules
    """)
    # pytest-helm-charts (installed here) imports its own cluster client; chartest must not
    project.run("-p", "no:helm-charts").assert_outcomes(passed=1)


def test_chartest_modules_are_imported_without_assertion_rewriting(project):
    """pytest would rewrite (and, under PYTHONDONTWRITEBYTECODE=1, parse and compile again on
    every run) each chartest module; chartest opts its modules out, test files stay rewritten."""
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        import sys

        def rewritten(module):
            return type(module.__loader__).__name__ == "AssertionRewritingHook"

        def test_render(render):
            render()
            chartest_modules = [sys.modules[n] for n in ("chartest.plugin.render_fixtures", "chartest.render.helm",
                                                         "chartest.render.manifests", "chartest.settings")]
            assert not [m.__name__ for m in chartest_modules if rewritten(m)]
            assert rewritten(sys.modules[__name__])
            import chartest.gate.checks  # the release gate's tests keep pytest's explanations
            assert rewritten(chartest.gate.checks)
    """)
    project.run().assert_outcomes(passed=1)


def _plugin_import_seconds(pycache: Path) -> float:
    """Cumulative import time of chartest.plugin once pytest is loaded (as in a pytest run), with
    bytecode cached as in a user's install (this machine's shells disable bytecode writing)."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pytest; import chartest.plugin"],
                         capture_output=True, text=True, check=True, env=env).stderr
    line = next(line for line in out.splitlines() if line.rstrip().endswith("| chartest.plugin"))
    return int(line.split("|")[1]) / 1e6


def test_plugin_import_is_fast(tmp_path):
    _plugin_import_seconds(tmp_path)  # writes the bytecode
    best = min(_plugin_import_seconds(tmp_path) for _ in range(3))
    assert best < 0.3, f"importing chartest.plugin takes {best:.3f}s (goal < 0.3s)"


def _tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file of the package; data files with size and mtime (sources may be edited meanwhile
    in a development checkout; test_install checks an installed package byte for byte)."""
    return {str(p.relative_to(root)): None if p.suffix == ".py" else (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if "__pycache__" not in p.parts}


def test_nothing_is_written_inside_the_package(project):
    before = _tree(PACKAGE)
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        def test_render(render, snapshot, assert_deterministic):
            snapshot.assert_match(render(), "m")
            assert_deterministic()
    """)
    project.run("--check-determinism").assert_outcomes(passed=1)
    assert _tree(PACKAGE) == before
    assert not (PACKAGE / ".chartest").exists()
    assert any((project.path / ".chartest" / "cache" / "render").rglob("*.json"))


def test_kube_config_of_pytest_helm_charts_is_chartests(project):
    project.ini()
    project.test("""
        def test_uses_kube_config(kube_config):
            pass
    """)
    result = project.run("--fixtures", "-v")
    out = result.stdout.str()
    match = re.search(r"^kube_config \[session scope\] -- (\S+)", out, re.MULTILINE)
    assert match, out
    assert re.search(r"chartest/plugin/helm_charts_binding\.py:\d+$", match.group(1).replace(os.sep, "/")), \
        f"kube_config comes from {match.group(1)}, not chartest's binding"
