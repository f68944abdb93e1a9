"""Fixtures of the render tier: ``helm template`` only, no cluster.

Options
  ``--chart DIR``        chart under test (default ``<rootdir>/chart``)
  ``--snapshot-update``  (re)write snapshot files instead of comparing

Strict CI mode: with ``CI=true`` in the environment (and no
``--snapshot-update``), a missing or different snapshot FAILS instead of being
written.

Fixtures
  ``chart_dir``      Path of the chart (session)
  ``render``         ``render(values=None, **kw) -> Manifests`` bound to chart_dir
                     (kw as :func:`chartest.render.render`: values_files, release,
                     namespace, set, api_versions, kube_version)
  ``render_fails``   ``render_fails(values=None, match=None, **kw) -> RenderError``:
                     the render MUST fail (and stderr match the regex ``match``)
  ``snapshot``       ``snapshot.assert_match(manifests, name, mask=())``: compare to
                     ``<test dir>/__snapshots__/<name>.yaml`` (generated fields masked)
  ``validate_schemas`` ``validate_schemas(manifests)``: fail listing every
                     Kubernetes/Traefik schema violation

Marker
  ``@pytest.mark.render_fails(match="regex")``: the test must raise
  :class:`RenderError` whose message matches (like ``pytest.raises``).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import yaml

from . import paths
from .render import RenderError, render as _render
from .render_plan import RenderPlan
from .resources import Manifests, get_path


# The hooks below (the ``render_fails`` marker) are wired up by chartest.plugin,
# which re-exports them explicitly; they are therefore NOT in __all__.

__all__ = ["addoption", "chart_dir", "render", "render_fails", "snapshot", "validate_schemas",
           "Snapshot", "mask_manifests", "DEFAULT_MASKS", "RenderError"]

MASK = "<masked>"


def addoption(parser) -> None:
    group = parser.getgroup("chartest-render", "chartest: render tier (helm template)")
    group.addoption("--chart", action="store", default=None,
                    help="chart directory under test (default: <rootdir>/chart)")
    group.addoption("--snapshot-update", action="store_true", default=False,
                    help="write snapshot files instead of comparing (also when CI=true)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "render_fails(match=None): the test must raise chartest.render.RenderError matching `match`")
    config.pluginmanager.register(RenderPlan(config, chart_path(config)), "chartest-render-plan")


def chart_path(config) -> Path:
    """The chart under test: ``--chart``, else ``<rootdir>/chart``."""
    opt = config.getoption("--chart", default=None)
    return (Path(opt) if opt else Path(str(config.rootpath)) / "chart").resolve()


def _recording_render(config, chart_dir: Path, values: dict | None, kw: dict) -> Manifests:
    """Render, and note the request in the test's render plan (see chartest.render_plan)."""
    plan = config.pluginmanager.get_plugin("chartest-render-plan")
    if plan is not None and kw.get("cache", True):
        plan.record({"values": values, **{k: v for k, v in kw.items() if k != "cache"}})
    return _render(chart_dir, values, **kw)


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


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def chart_dir(request) -> Path:
    path = chart_path(request.config)
    if not (path / "Chart.yaml").exists():
        pytest.exit(f"--chart: no Chart.yaml in {path}", returncode=4)
    return path


@pytest.fixture(scope="session")
def render(request, chart_dir) -> Callable[..., Manifests]:
    def bound(values: dict | None = None, **kw: Any) -> Manifests:
        return _recording_render(request.config, chart_dir, values, kw)

    bound.chart_dir = chart_dir  # type: ignore[attr-defined]
    return bound


@pytest.fixture(scope="session")
def render_fails(request, chart_dir) -> Callable[..., RenderError]:
    def bound(values: dict | None = None, match: str | None = None, **kw: Any) -> RenderError:
        try:
            out = _recording_render(request.config, chart_dir, values, kw)
        except RenderError as err:
            if match and not re.search(match, str(err)):
                pytest.fail(f"render failed, but stderr does not match {match!r}:\n{err}", pytrace=False)
            return err
        pytest.fail(f"expected the render to fail with values {values!r}, but it produced "
                    f"{len(out)} resources", pytrace=False)

    return bound


@pytest.fixture(scope="session")
def validate_schemas() -> Callable[[Iterable[dict]], None]:
    from . import schemas

    def check(manifests: Iterable[dict], ignore_missing: bool = False) -> None:
        problems = schemas.validate_all(manifests, ignore_missing=ignore_missing)
        if problems:
            pytest.fail("schema violations:\n  " + "\n  ".join(map(str, problems)), pytrace=False)

    return check


# ---------------------------------------------------------------------------- snapshots

# (kind or "*", path) pairs whose values are generated and masked in snapshots.
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("Secret", "data"),
    ("Secret", "stringData"),
)
_CHECKSUM_KEY = re.compile(r"^checksum/")


def _mask_checksums(node: Any) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "annotations" and isinstance(v, dict):
                for ak in list(v):
                    if _CHECKSUM_KEY.match(str(ak)):
                        v[ak] = MASK
            else:
                _mask_checksums(v)
    elif isinstance(node, list):
        for item in node:
            _mask_checksums(item)


def mask_manifests(manifests: Iterable[dict], extra: Iterable[tuple[str, str]] = ()) -> list[dict]:
    """Copies of the manifests with generated values replaced by ``<masked>``:
    Secret data values, ``checksum/*`` annotations, and ``extra`` (kind, path) pairs."""
    import copy

    out = []
    for r in manifests:
        d = copy.deepcopy(dict(r))
        _mask_checksums(d)
        for kind, path in (*DEFAULT_MASKS, *extra):
            if kind not in ("*", d.get("kind")):
                continue
            parent_path, _, leaf = path.rpartition(".")
            parent = get_path(d, parent_path, None) if parent_path else d
            if isinstance(parent, dict) and leaf in parent:
                if isinstance(parent[leaf], dict):
                    parent[leaf] = {k: MASK for k in parent[leaf]}
                else:
                    parent[leaf] = MASK
        out.append(d)
    return out


def _dump(manifests: list[dict]) -> str:
    docs = sorted(manifests, key=lambda d: (d.get("kind", ""), (d.get("metadata") or {}).get("name", "")))
    return "".join("---\n" + yaml.safe_dump(d, sort_keys=True, default_flow_style=False) for d in docs)


class Snapshot:
    def __init__(self, directory: Path, update: bool, strict: bool):
        self.directory = directory
        self.update = update
        self.strict = strict

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.yaml"

    def assert_match(self, manifests: Iterable[dict], name: str, mask: Iterable[tuple[str, str]] = ()) -> None:
        text = _dump(mask_manifests(manifests, mask))
        target = self.path(name)
        if self.update or (not target.exists() and not self.strict):
            paths.write_atomic(target, text)
            return
        if not target.exists():
            pytest.fail(f"snapshot {target} is missing (CI=true: run `pytest --snapshot-update` "
                        "locally and commit it)", pytrace=False)
        old = target.read_text()
        if old != text:
            diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                str(target), "rendered", n=2))
            lines = diff.splitlines()
            shown = "\n".join(lines[:200]) + (f"\n... {len(lines) - 200} more lines" if len(lines) > 200 else "")
            pytest.fail(f"render differs from snapshot {target.name} (run with --snapshot-update if "
                        f"intended):\n{shown}", pytrace=False)


@pytest.fixture
def snapshot(request) -> Snapshot:
    update = bool(request.config.getoption("--snapshot-update", default=False))
    strict = os.environ.get("CI", "").lower() in ("1", "true", "yes") and not update
    directory = Path(str(request.node.path)).parent / "__snapshots__"
    return Snapshot(directory, update=update, strict=strict)
