"""The chartest pytest plugin, loaded through the ``pytest11`` entry point.

Fixtures are imported here by name, one module per tier; the hooks below read
the settings (:mod:`chartest.settings`) once per run and print them, with
their sources, in the run's header.
"""

from __future__ import annotations

import sys

import pytest


def _import_without_assertion_rewriting() -> None:
    """Import chartest's own modules as plain Python, not through pytest's assertion rewriting.

    pytest rewrites the asserts of every module of a plugin's distribution, and caches the result
    in bytecode files of its own, which it cannot write where ``PYTHONDONTWRITEBYTECODE=1`` (common
    in CI images): there, each run parses and compiles every chartest module again (~30 ms for a
    render-only run). chartest's checks word their own failures, so they need no rewriting. Only
    the marks pytest put on chartest are removed; if pytest's hook changes shape, nothing happens.
    """
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if type(finder).__name__ != "AssertionRewritingHook" or not isinstance(marked, set):
            continue
        marked.difference_update({"chartest", __name__})
        decided = getattr(finder, "_marked_for_rewrite_cache", None)
        if isinstance(decided, dict):
            for name in [n for n in decided if n == "chartest" or n.startswith("chartest.")]:
                del decided[name]
    # the release gate's checks are pytest tests (``pytest --pyargs chartest.gate.checks``): their
    # asserts keep pytest's explanation
    pytest.register_assert_rewrite("chartest.gate.checks")


_import_without_assertion_rewriting()

from .. import settings as settings_mod  # noqa: E402 - after the rewriting opt-out above
from .cluster_fixtures import (  # noqa: F401,E402 - fixtures and hooks, registered by name
    browser_page,
    helm_release,
    kind_cluster,
    kind_cluster_with_nodes,
    kind_config_patch,
    kind_node_image,
    kube_api,
    local_registry,
    local_registry_with_nodes,
    oci_registry,
    pytest_collection_modifyitems,
    pytest_runtest_makereport,
    release_probe,
    registry_image,
    release_values,
    traefik,
    traefik_image,
)
from . import coverage_plugin, xdist_sharing  # noqa: E402
from .gate_fixtures import release_gate  # noqa: F401,E402 - fixture, registered by name
from .routing_fixtures import (  # noqa: F401,E402 - fixtures, registered by name
    assert_traefik_agrees,
    local_traefik,
    routing_lints,
    routing_table,
)
from .render_fixtures import (  # noqa: F401,E402 - fixtures and hooks, registered by name
    MISSING_TOOLS,
    assert_deterministic,
    assert_restricted,
    chart_dir,
    pytest_pyfunc_call,
    render,
    render_fails,
    schema_set,
    snapshot,
    validate_schemas,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_mod.register(parser)


def pytest_configure(config: pytest.Config) -> None:
    from .work_plan import WorkPlan

    s = settings_mod.of(config)
    settings_mod.apply(s)
    config.addinivalue_line(
        "markers", "render_fails(match=None): the test must raise chartest.RenderError matching `match`")
    config.addinivalue_line("markers", "e2e: needs a Kubernetes cluster (added to every test using kind_cluster)")
    xdist_sharing.configure(config)
    if config.pluginmanager.has_plugin("xdist"):
        config.pluginmanager.register(xdist_sharing, "chartest-xdist-sharing")
    config.pluginmanager.register(WorkPlan(config, s.chart, s.plan), "chartest-render-plan")
    coverage_plugin.configure(config)
    if config.pluginmanager.has_plugin("helm-charts") or _helm_charts_loaded(config):
        from . import helm_charts_binding

        # registered after pytest-helm-charts, so its kube_config is the one that counts
        config.pluginmanager.register(helm_charts_binding, "chartest-helm-charts-binding")


def _helm_charts_loaded(config: pytest.Config) -> bool:
    return any(getattr(p, "__name__", "").startswith("pytest_helm_charts")
               for p in config.pluginmanager.get_plugins())


HYPOTHESIS_PLUGIN = "hypothesispytest"


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Hypothesis' pytest plugin imports all of Hypothesis in its terminal summary, even in a
    session that never used it (a second and more where bytecode is not written); a session whose
    tests did not import it does not need the plugin (not on an xdist controller, which never
    imports the tests)."""
    config = session.config
    if ("hypothesis" not in sys.modules and not config.pluginmanager.has_plugin("dsession")
            and config.pluginmanager.get_plugin(HYPOTHESIS_PLUGIN) is not None):
        config.pluginmanager.unregister(name=HYPOTHESIS_PLUGIN)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return ["chartest settings (value  [source]):", *settings_mod.of(config).header_lines()]


@pytest.fixture(scope="session")
def chartest_settings(pytestconfig) -> settings_mod.Settings:
    """The run's resolved settings (``.chart``, ``.release``, ... and ``.source(name)``)."""
    return settings_mod.of(pytestconfig)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from .cluster_fixtures import e2e_summary

    e2e_summary(terminalreporter)
    for message in config.stash.get(MISSING_TOOLS, {}).values():
        terminalreporter.write_sep("-", message, red=True)
