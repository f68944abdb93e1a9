"""The release gate: what chart-testing (ct) checks, plus the upgrade failures it misses.

- :mod:`.lint`: ``helm lint --strict`` per values file, findings with file and line;
- :mod:`.semver` and :meth:`ChartGate.version_verdict`: a chart changed since the
  base ref needs a greater version, a breaking change a major one;
- :mod:`.upgrade`: the base ref's chart and the current one rendered with the same
  values, every immutable field change, orphaned volume and removed value key;
- :mod:`.checks`: those as pytest tests (``pytest --pyargs chartest.gate.checks``);
- :mod:`.cli`: ``python -m chartest gate``, one JUnit XML and a Markdown summary.
"""

from .chart_gate import ChartGate, GateFailure, ValuesSet, VersionVerdict
from .gitref import export_dir
from .lint import LintFinding, LintResult, helm_lint
from .semver import SemVer, SemVerError
from .upgrade import Finding, compare_manifests, removed_value_keys

__all__ = ["ChartGate", "GateFailure", "ValuesSet", "VersionVerdict", "LintFinding", "LintResult", "helm_lint",
           "SemVer", "SemVerError", "Finding", "compare_manifests", "removed_value_keys", "export_dir"]
