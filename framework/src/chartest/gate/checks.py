"""The release gate as pytest tests, for any chart: ``python -m chartest gate`` runs this module,
and so does ``pytest --pyargs chartest.gate.checks`` (settings as for every chartest run).

One lint and one upgrade-safety test per values set (the chart's defaults, then each
``gate_values`` file), and one version test. Without a base ref the version and upgrade
tests skip, and fail under CI=true. Then the chart is published as its users get it:
``helm package`` (under ``<artifacts>/gate/package``) and ``helm push`` to an OCI registry
(the ``image_registry`` setting's, else one the gate starts), read back from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .. import settings as settings_mod
from .. import yamlload
from .chart_gate import DEFAULTS_LABEL, GateFailure, ValuesSet
from ..render.helm import RenderError
from .gitref import GitError

OFFLINE_ENV = "CHARTEST_GATE_OFFLINE"  # set by `python -m chartest gate --offline`


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


@pytest.fixture(scope="session")
def chart_meta(pytestconfig) -> dict:
    return yamlload.load((settings_mod.of(pytestconfig).chart / "Chart.yaml").read_text())


@pytest.fixture(scope="session")
def packaged_chart(pytestconfig) -> Path:
    """``helm package`` of the chart, kept under the artifacts directory for a CI job to attach."""
    from ..cluster.registry import package_chart

    s = settings_mod.of(pytestconfig)
    return package_chart(s.chart, Path(s.artifacts) / "gate" / "package")


def test_chart_package(packaged_chart, chart_meta):
    """helm package makes <name>-<version>.tgz holding the chart."""
    import tarfile

    assert packaged_chart.name == f"{chart_meta['name']}-{chart_meta['version']}.tgz"
    with tarfile.open(packaged_chart) as archive:
        names = archive.getnames()
        packed = yamlload.load(archive.extractfile(f"{chart_meta['name']}/Chart.yaml"))
    assert packed["version"] == chart_meta["version"]
    assert any(n.startswith(f"{chart_meta['name']}/templates/") for n in names), names


def test_chart_push(packaged_chart, chart_meta, request):
    """helm push to the OCI registry, then helm show chart from that oci:// reference."""
    if os.environ.get(OFFLINE_ENV) == "1" and not settings_mod.of(request.config).image_registry:
        pytest.skip("gate --offline: no registry is started (give --image-registry to push anyway)")
    oci_registry = request.getfixturevalue("oci_registry")
    from ..cluster.registry import push_chart
    from ..shell import run
    from ..tools import find

    pushed = push_chart(packaged_chart, oci_registry)
    print(f"pushed {pushed.ref} --version {pushed.version} ({pushed.digest})")
    assert pushed.version == chart_meta["version"]
    shown = yamlload.load(run([find("helm"), "show", "chart", pushed.ref, *pushed.install_flags(oci_registry)],
                               stdout_only=True))
    assert (shown["name"], shown["version"]) == (chart_meta["name"], chart_meta["version"])
