"""The release gate as pytest tests, for any chart: ``python -m chartest gate`` runs this module,
and so does ``pytest --pyargs chartest.gate.checks`` (settings as for every chartest run).

One lint and one upgrade-safety test per values set (the chart's defaults, then each
``gate_values`` file), and one version test. Without a base ref the version and upgrade
tests skip, and fail under CI=true.
"""

from __future__ import annotations

import os

import pytest

from .. import settings as settings_mod
from .chart_gate import DEFAULTS_LABEL, GateFailure, ValuesSet
from ..render.helm import RenderError
from .gitref import GitError


def pytest_generate_tests(metafunc):
    if "values_set" in metafunc.fixturenames:
        s = settings_mod.of(metafunc.config)
        sets = [ValuesSet(DEFAULTS_LABEL)] + [ValuesSet(str(f), (f,)) for f in s.gate_values]
        metafunc.parametrize("values_set", sets, ids=["defaults"] + [f.name for f in s.gate_values])


def _needs_base(gate) -> None:
    if not gate.base_ref:
        message = (f"no base ref for {gate.chart_dir} (not in git, or no main/master and no parent "
                   "commit): give --base-ref / CHARTEST_BASE_REF")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _check(call):
    try:
        return call()
    except (GateFailure, GitError) as failure:
        message = str(failure)
    except RenderError as err:
        message = f"the chart does not render (test_helm_lint says where): {err}"
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback


def test_helm_lint(release_gate, values_set):
    """helm lint --strict passes with this values set."""
    _check(lambda: release_gate.assert_lint_clean(values_set))


def test_chart_version(release_gate):
    """Changed since the base ref: a greater version; breaking: a major bump."""
    _needs_base(release_gate)
    verdict = _check(release_gate.assert_version_bumped)
    print(verdict.message)


def test_upgrade_safety(release_gate, values_set):
    """helm upgrade from the base ref's chart patches no immutable field and orphans no data."""
    _needs_base(release_gate)
    findings = _check(lambda: release_gate.assert_upgrade_safe(values_set))
    for f in findings:
        print(f)
