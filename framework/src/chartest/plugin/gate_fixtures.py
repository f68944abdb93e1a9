"""The gate's pytest fixture: a :class:`ChartGate` built from the run's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .. import settings as settings_mod

if TYPE_CHECKING:  # the gate loads when its fixture runs, not with the plugin
    from ..gate.chart_gate import ChartGate


def gate_from_settings(config: pytest.Config) -> ChartGate:
    from ..gate.chart_gate import ChartGate

    s = settings_mod.of(config)
    return ChartGate(s.chart, s.base_ref, list(s.gate_values), release=s.release, namespace=s.namespace,
                     api_versions=list(s.api_versions), kube_version=s.kube_version)


@pytest.fixture(scope="session")
def release_gate(pytestconfig):
    """The chart under test against ``base_ref`` (``--base-ref``): ``.assert_lint_clean(values_set)``,
    ``.assert_version_bumped()``, ``.assert_upgrade_safe(values_set)``, ``.values_sets`` and the data
    behind them (``.lint``, ``.version_verdict``, ``.upgrade_findings``)."""
    gate = gate_from_settings(pytestconfig)
    yield gate
    gate.close()
