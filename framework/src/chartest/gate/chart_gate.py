"""One chart against one git base ref: lint, version discipline and upgrade safety.

:class:`ChartGate` holds what every check needs (the chart, the base ref, the
values sets, the render arguments) and exports the base chart once. Each
check returns data (findings, a verdict); the ``assert_*`` methods turn them
into one readable failure for pytest.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import yaml

from .. import yamlload
from ..results import ResultCache, key_of
from . import gitref
from .lint import LintResult, helm_lint
from .semver import SemVer, SemVerError
from .upgrade import Finding, compare_manifests, removed_value_keys

__all__ = ["ChartGate", "VersionVerdict", "GateFailure", "ValuesSet"]

DEFAULTS_LABEL = "chart defaults"
upgrade_cache = ResultCache("upgrade", version=1)
upgrade_stats = {"upgrade_comparisons": 0}  # comparisons made in this process (cache misses)


class GateFailure(AssertionError):
    """A gate check failed; the message lists every problem."""


@dataclass(frozen=True)
class ValuesSet:
    label: str                    # "chart defaults" or the values file as given
    files: tuple[Path, ...] = ()


@dataclass
class VersionVerdict:
    ok: bool
    message: str
    base_version: str | None = None
    version: str | None = None
    changed: list[str] = field(default_factory=list)
    breaking: list[Finding] = field(default_factory=list)


@dataclass
class ChartGate:
    chart_dir: Path
    base_ref: str | None
    values_files: Sequence[Path] = ()
    release: str = "release"
    namespace: str = "default"
    api_versions: Sequence[str] = ()
    kube_version: str | None = None
    _base_dir: Path | None = field(default=None, init=False, repr=False)
    _tmp: str | None = field(default=None, init=False, repr=False)
    _exported: bool = field(default=False, init=False, repr=False)
    _base_commit: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.chart_dir = Path(self.chart_dir).resolve()
        if not (self.chart_dir / "Chart.yaml").is_file():
            raise GateFailure(f"no Chart.yaml in {self.chart_dir}: give the chart directory (--chart)")

    # ---------------------------------------------------------------- values sets
    @property
    def values_sets(self) -> list[ValuesSet]:
        """The chart's own defaults, then each values file on its own."""
        return [ValuesSet(DEFAULTS_LABEL)] + [ValuesSet(str(f), (Path(f),)) for f in self.values_files]

    # ---------------------------------------------------------------- lint
    def lint(self, values: ValuesSet | None = None) -> LintResult:
        values = values or ValuesSet(DEFAULTS_LABEL)
        return helm_lint(self.chart_dir, values.files, kube_version=self.kube_version,
                         label=None if not values.files else values.label)

    def assert_lint_clean(self, values: ValuesSet | None = None) -> LintResult:
        result = self.lint(values)
        if not result.ok:
            raise GateFailure(result.report())
        return result

    # ---------------------------------------------------------------- base ref
    def require_base(self) -> str:
        if not self.base_ref:
            raise GateFailure(f"no base ref to compare {self.chart_dir} with: not a git work tree, or no "
                              "main/master branch and no parent commit; give --base-ref / CHARTEST_BASE_REF")
        return self.base_ref

    @property
    def base_chart(self) -> Path | None:
        """The chart as it was at the base ref (exported once), None when it did not exist there."""
        if not self._exported:
            self._tmp = tempfile.mkdtemp(prefix="chartest-base-")
            self._base_dir = gitref.export_dir(self.chart_dir, self.require_base(), Path(self._tmp))
            self._exported = True
        return self._base_dir

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp, self._exported, self._base_dir = None, False, None

    # ---------------------------------------------------------------- upgrade safety
    def _render(self, chart: Path, values: ValuesSet):
        from ..render.helm import render

        return render(chart, values_files=values.files, release=self.release, namespace=self.namespace,
                      api_versions=self.api_versions, kube_version=self.kube_version)

    def _upgrade_key(self, values: ValuesSet) -> str:
        """What the comparison depends on: the base ref's commit, this chart's content, the values
        files (path and content), the render arguments and who renders."""
        from ..render import helm, renderers

        if self._base_commit is None:
            self._base_commit = gitref.resolve_ref(gitref.repo_root(self.chart_dir), self.require_base())
        return key_of({"base_commit": self._base_commit, "chart": str(self.chart_dir),
                       "digest": helm.content_digest(self.chart_dir), "label": values.label,
                       "values_files": [[str(f), helm.content_digest(f)]
                                        for f in (Path(f).resolve() for f in values.files)],
                       "release": self.release, "namespace": self.namespace,
                       "api_versions": list(self.api_versions), "kube_version": self.kube_version,
                       "renderer": renderers.chosen().identity()})

    def upgrade_findings(self, values: ValuesSet | None = None) -> list[Finding]:
        """Every problem of ``helm upgrade`` from the base chart to this one with ``values``
        (and the removed value keys); empty for a chart new since the base ref. Kept in
        ``<state>/cache/upgrade`` by everything it depends on (:meth:`_upgrade_key`)."""
        values = values or ValuesSet(DEFAULTS_LABEL)
        key = self._upgrade_key(values)
        stored = upgrade_cache.get(key)
        if stored is not None:
            return [Finding(**f) for f in stored]
        found = self._compare_with_base(values)
        upgrade_stats["upgrade_comparisons"] += 1
        upgrade_cache.put(key, [dataclasses.asdict(f) for f in found])
        return found

    def _compare_with_base(self, values: ValuesSet) -> list[Finding]:
        from ..render.helm import RenderError

        base = self.base_chart
        if base is None:
            return []
        current = self._render(self.chart_dir, values)  # a RenderError here is the chart's own failure
        try:
            old = self._render(base, values)
        except RenderError as err:
            if values.files:  # a values file newer than the base chart: nothing to compare with
                return []
            raise GateFailure(f"the base chart ({self.base_ref}) does not render with its defaults: "
                              f"{err}") from None
        label = "" if not values.files else values.label
        return compare_manifests(old, current, label) + removed_value_keys(base, self.chart_dir)

    def all_upgrade_findings(self) -> list[Finding]:
        seen, out = set(), []
        for vs in self.values_sets:
            for f in self.upgrade_findings(vs):
                if (f.check, f.ref, f.path) not in seen:
                    seen.add((f.check, f.ref, f.path))
                    out.append(f)
        return out

    def assert_upgrade_safe(self, values: ValuesSet | None = None) -> list[Finding]:
        """Fails on upgrade-blocking findings, unless the version bump is major (a declared break)."""
        findings = self.upgrade_findings(values)
        blocking = [f for f in findings if f.blocks_upgrade]
        if blocking:
            verdict = self.version_verdict(findings)
            if verdict.ok and verdict.base_version and verdict.version and \
                    SemVer.parse(verdict.version).is_breaking_bump_from(SemVer.parse(verdict.base_version)):
                return findings  # announced by a major bump: the release notes must say what to do
            shown = values.label if values else DEFAULTS_LABEL
            raise GateFailure(
                f"helm upgrade from {self.base_ref} to this chart ({shown}) breaks "
                f"{len(blocking)} way(s):\n" + "\n".join(f"  {f}" for f in blocking)
                + "\n(keep the old value, or bump the chart's major version and document the manual steps)")
        return findings

    # ---------------------------------------------------------------- version discipline
    def version_verdict(self, breaking: list[Finding] | None = None) -> VersionVerdict:
        """Changed since the base ref -> version must be greater; breaking -> a major bump."""
        ref = self.require_base()
        base_text = gitref.file_at(self.chart_dir, ref, "Chart.yaml")
        current_text = (self.chart_dir / "Chart.yaml").read_text()
        version = _version_of(current_text, self.chart_dir / "Chart.yaml")
        if base_text is None:
            return VersionVerdict(True, f"new chart since {ref}: version {version}", None, str(version))
        base_version = _version_of(base_text, f"Chart.yaml at {ref}")
        changed = gitref.changed_files(self.chart_dir, ref)
        if not changed:
            return VersionVerdict(True, f"chart unchanged since {ref} (version {version})", str(base_version),
                                  str(version))
        if breaking is None:
            breaking = self.all_upgrade_findings()
        shown = ", ".join(changed[:8]) + (f", ... ({len(changed)} files)" if len(changed) > 8 else "")
        chart_yaml = self.chart_dir / "Chart.yaml"
        if not version > base_version:
            return VersionVerdict(False, f"{len(changed)} file(s) of the chart changed since {ref} ({shown}) "
                                  f"but version {version} in {chart_yaml} is not greater than {base_version}: "
                                  f"bump it (SemVer)", str(base_version), str(version), changed, breaking)
        if breaking and not version.is_breaking_bump_from(base_version):
            return VersionVerdict(False, f"breaking change(s) since {ref} need a major version bump "
                                  f"({base_version} -> {_next_breaking(base_version)}), {chart_yaml} has "
                                  f"{version}:\n" + "\n".join(f"  {f}" for f in breaking),
                                  str(base_version), str(version), changed, breaking)
        return VersionVerdict(True, f"{base_version} -> {version} for {len(changed)} changed file(s)"
                              + (f", {len(breaking)} breaking change(s) under a major bump" if breaking else ""),
                              str(base_version), str(version), changed, breaking)

    def assert_version_bumped(self) -> VersionVerdict:
        verdict = self.version_verdict()
        if not verdict.ok:
            raise GateFailure(verdict.message)
        return verdict


def _version_of(chart_yaml_text: str, where) -> SemVer:
    try:
        raw = (yamlload.load(chart_yaml_text) or {}).get("version")
    except yaml.YAMLError as err:
        raise GateFailure(f"{where} is not valid YAML: {err}") from None
    if raw is None:
        raise GateFailure(f"{where} has no `version`")
    try:
        return SemVer.parse(raw)
    except SemVerError as err:
        raise GateFailure(f"{where}: version {err}") from None


def _next_breaking(v: SemVer) -> str:
    if v.major:
        return f"{v.major + 1}.0.0"
    if v.minor:
        return f"0.{v.minor + 1}.0"
    return f"0.0.{v.patch + 1}"
