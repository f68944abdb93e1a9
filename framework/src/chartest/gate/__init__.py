"""The release gate: what chart-testing (ct) checks, plus the upgrade failures it misses.

- :mod:`.lint`: ``helm lint --strict`` per values file, findings with file and line;
- :mod:`.semver` and :meth:`ChartGate.version_verdict`: a chart changed since the
  base ref needs a greater version, a breaking change a major one;
- :mod:`.upgrade`: the base ref's chart and the current one rendered with the same
  values, every immutable field change, orphaned volume and removed value key;
- :mod:`.checks`: those as pytest tests (``pytest --pyargs chartest.gate.checks``);
- :mod:`.cli`: ``python -m chartest gate``, one JUnit XML and a Markdown summary.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {"ChartGate": "chart_gate", "GateFailure": "chart_gate", "ValuesSet": "chart_gate",
            "VersionVerdict": "chart_gate", "export_dir": "gitref", "LintFinding": "lint",
            "LintResult": "lint", "helm_lint": "lint", "SemVer": "semver", "SemVerError": "semver",
            "Finding": "upgrade", "compare_manifests": "upgrade", "removed_value_keys": "upgrade"}
__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .chart_gate import ChartGate, GateFailure, ValuesSet, VersionVerdict  # noqa: F401
    from .gitref import export_dir  # noqa: F401
    from .lint import LintFinding, LintResult, helm_lint  # noqa: F401
    from .semver import SemVer, SemVerError  # noqa: F401
    from .upgrade import Finding, compare_manifests, removed_value_keys  # noqa: F401


def __getattr__(name: str):
    """Loaded on first use: the settings' default base ref needs only :mod:`.gitref`."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chartest.gate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
