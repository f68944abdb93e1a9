"""Fixtures of the render tier: ``helm template`` only, no cluster.

``chart_dir``            the chart under test (the ``chart`` setting)
``render``               ``render(values=None, **kw) -> Manifests``, bound to the chart and the
                         settings (release, namespace, values files, Kubernetes and API versions)
``render_fails``         ``render_fails(values=None, match=None, **kw) -> RenderError``: must fail
``assert_deterministic`` ``assert_deterministic(values=None, **kw)``: two renders bypassing every
                         cache are identical
``snapshot``             ``snapshot.assert_match(manifests, name, mask=())``
``validate_schemas``     ``validate_schemas(manifests, ignore_missing=False)``: fail listing every
                         violation of Kubernetes' and the configured CRDs' schemas
``assert_restricted``    ``assert_restricted(manifests)``: fail listing every Pod Security
                         ``restricted`` finding, one per line

Marker ``@pytest.mark.render_fails(match="regex")``: the test must raise
:class:`~chartest.render.helm.RenderError` whose message matches.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

from .. import settings as settings_mod
from .. import tools
from ..render.helm import RenderError, render as _render, render_differences
from ..render.manifests import Manifests
from ..render.snapshots import Snapshot

PLAN_PLUGIN = "chartest-render-plan"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def render_defaults(config: pytest.Config) -> dict[str, Any]:
    """The keyword arguments every render of this run gets from the settings."""
    s = settings_mod.of(config)
    return {"values_files": [str(p) for p in s.values], "release": s.release, "namespace": s.namespace,
            "api_versions": list(s.api_versions), "kube_version": s.kube_version}


def _recording_render(config: pytest.Config, chart_dir: Path, values: dict | None, kw: dict) -> Manifests:
    """Render with the settings' defaults under ``kw`` (the render plan notes it as it notes every render)."""
    kw = {**render_defaults(config), **kw}
    try:
        manifests = _render(chart_dir, values, **kw)
    except tools.MissingTool as exc:
        note_missing_tool(config, exc)
        pytest.fail(str(exc), pytrace=False)
    if config.getoption("--check-determinism") and kw.get("cache", True):
        again = _render(chart_dir, values, **{**kw, "cache": False})
        if differences := render_differences(manifests, again):
            pytest.fail("--check-determinism: two renders of the same values differ:\n  "
                        + "\n  ".join(differences), pytrace=False)
    return manifests


MISSING_TOOLS = pytest.StashKey[dict]()


def note_missing_tool(config: pytest.Config, exc: tools.MissingTool) -> None:
    """Remember a missing tool; the summary names it once, however many tests needed it."""
    config.stash.setdefault(MISSING_TOOLS, {}).setdefault(exc.tool, str(exc))


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    marker = pyfuncitem.get_closest_marker("render_fails")
    outcome = yield
    if marker is None:
        return
    match = marker.kwargs.get("match", marker.args[0] if marker.args else None)
    excinfo = outcome.excinfo
    if excinfo is None:
        outcome.force_exception(pytest.fail.Exception(
            "expected the render to fail (render_fails marker) but it succeeded", pytrace=False))
        return
    exc = excinfo[1]
    if not isinstance(exc, RenderError):
        return  # a different error: let it through as is
    if match and not re.search(match, str(exc)):
        outcome.force_exception(pytest.fail.Exception(
            f"render failed, but stderr does not match {match!r}:\n{exc}", pytrace=False))
        return
    outcome.force_result(None)


@pytest.fixture(scope="session")
def chart_dir(pytestconfig) -> Path:
    """The chart under test; a missing one stops the session with the setting's source."""
    s = settings_mod.of(pytestconfig)
    if not (s.chart / "Chart.yaml").exists():
        pytest.exit(f"chartest: no Chart.yaml in {s.chart} (chart setting, from {s.source('chart')}); "
                    "set --chart, $CHARTEST_CHART or ini chartest_chart", returncode=4)
    return s.chart


@pytest.fixture(scope="session")
def render(pytestconfig, chart_dir) -> Callable[..., Manifests]:
    def bound(values: dict | None = None, **kw: Any) -> Manifests:
        return _recording_render(pytestconfig, chart_dir, values, kw)

    bound.chart_dir = chart_dir  # type: ignore[attr-defined]
    return bound


@pytest.fixture(scope="session")
def render_fails(pytestconfig, chart_dir) -> Callable[..., RenderError]:
    def bound(values: dict | None = None, match: str | None = None, **kw: Any) -> RenderError:
        try:
            out = _recording_render(pytestconfig, chart_dir, values, kw)
        except RenderError as err:
            if match and not re.search(match, str(err)):
                pytest.fail(f"render failed, but stderr does not match {match!r}:\n{err}", pytrace=False)
            return err
        pytest.fail(f"expected the render to fail with values {values!r}, but it produced "
                    f"{len(out)} resources", pytrace=False)

    return bound


@pytest.fixture(scope="session")
def assert_deterministic(pytestconfig, chart_dir) -> Callable[..., None]:
    def check(values: dict | None = None, **kw: Any) -> None:
        first = _recording_render(pytestconfig, chart_dir, values, {**kw, "cache": False})
        second = _recording_render(pytestconfig, chart_dir, values, {**kw, "cache": False})
        if differences := render_differences(first, second):
            pytest.fail("the chart renders differently each time:\n  " + "\n  ".join(differences),
                        pytrace=False)

    return check


@pytest.fixture(scope="session")
def schema_set(pytestconfig, chart_dir):
    """The schemas ``validate_schemas`` checks against (Kubernetes + configured CRD sources)."""
    from ..render.schemas import SchemaSet

    s = settings_mod.of(pytestconfig)
    return SchemaSet(s.kube_version, s.schema_sources, chart_dir)


@pytest.fixture(scope="session")
def validate_schemas(pytestconfig, schema_set) -> Callable[[Iterable[dict]], None]:
    def check(manifests: Iterable[dict], ignore_missing: bool = False) -> None:
        try:
            problems = schema_set.validate_all(manifests, ignore_missing=ignore_missing)
        except tools.MissingTool as exc:
            note_missing_tool(pytestconfig, exc)
            pytest.fail(str(exc), pytrace=False)
        if problems:
            pytest.fail("schema violations:\n  " + "\n  ".join(map(str, problems)), pytrace=False)

    return check


@pytest.fixture(scope="session")
def assert_restricted() -> Callable[[Iterable[dict]], None]:
    from ..assertions.podsecurity import assert_restricted as check

    return check


@pytest.fixture
def snapshot(request) -> Snapshot:
    update = bool(request.config.getoption("--snapshot-update"))
    directory = Path(str(request.node.path)).parent / "__snapshots__"
    return Snapshot(directory, update=update, strict=in_ci() and not update)
