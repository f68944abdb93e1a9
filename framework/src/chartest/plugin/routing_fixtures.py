"""Fixtures of the routing tier: the render's routes, the predictor, the real Traefik, the lints.

``routing_table``          ``routing_table(values=None, **render_kw) -> RoutingTable`` of the chart
``routing_lints``          ``routing_lints(table_or_values=None) -> list[Lint]``
``local_traefik``          ``local_traefik(table)``: the real Traefik's answers (``ask``, ``ask_all``, as
                           :class:`LocalTraefik`), started once per table and session, kept by content
``assert_traefik_agrees``  ``assert_traefik_agrees(table, requests=None)``: the corpus through the
                           predictor and the local real Traefik; fails listing every disagreement
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pytest

from .. import tools
from .render_fixtures import PLAN_PLUGIN

if TYPE_CHECKING:  # the routing tier loads when a routing fixture runs, not with the plugin
    from ..routing.lints import Lint
    from ..routing.live import LocalTraefik
    from ..routing.request import Request
    from ..routing.table import RoutingTable

__all__ = ["routing_table", "routing_lints", "local_traefik", "assert_traefik_agrees"]


@pytest.fixture(scope="session")
def routing_table(render) -> Callable[..., RoutingTable]:
    from ..routing.table import RoutingTable

    def build(values: dict | None = None, strict_prefix_matching: bool = False, **kw: Any) -> RoutingTable:
        return RoutingTable.from_manifests(render(values, **kw), strict_prefix_matching=strict_prefix_matching)

    return build


@pytest.fixture(scope="session")
def routing_lints(routing_table) -> Callable[..., list[Lint]]:
    from ..routing.lints import lint
    from ..routing.table import RoutingTable

    def run(table_or_values: RoutingTable | dict | None = None) -> list[Lint]:
        table = table_or_values if isinstance(table_or_values, RoutingTable) else routing_table(table_or_values)
        return lint(table)

    return run


def _plan_entry(table: RoutingTable) -> dict:
    """What the work plan keeps to build ``table`` again next session: its documents without their
    labels (routing reads none; the chart's version label would change the plan on every bump)."""
    documents = [{**d, "metadata": {k: v for k, v in (d.get("metadata") or {}).items() if k != "labels"}}
                 for d in table.documents or ()]
    return {"documents": documents, "strict_prefix_matching": table.strict_prefix_matching}


@pytest.fixture(scope="session")
def local_traefik(pytestconfig) -> Any:
    """``local_traefik(table)``: the real pinned Traefik's answers for ``table``'s routes, one per
    configuration and session; answers it gave before to the same requests under the same
    configuration and Traefik come from ``<state>/cache/traefik`` (:mod:`chartest.routing.verdicts`)."""
    from ..routing.verdicts import TraefikAnswers, config_key

    started: dict[str, TraefikAnswers] = {}

    def get(table: RoutingTable) -> TraefikAnswers:
        plan = pytestconfig.pluginmanager.get_plugin(PLAN_PLUGIN)
        if plan is not None and table.documents is not None:  # started ahead of this test next time
            plan.note("traefik", _plan_entry(table))
        try:
            key = config_key(table)
            if key not in started:
                started[key] = TraefikAnswers(table)
        except tools.MissingTool as exc:
            from .render_fixtures import note_missing_tool

            note_missing_tool(pytestconfig, exc)
            pytest.fail(str(exc), pytrace=False)
        return started[key]

    yield get
    for answers in started.values():
        answers.stop()


@pytest.fixture(scope="session")
def assert_traefik_agrees(local_traefik, pytestconfig) -> Callable[..., None]:
    from ..routing import compare
    from ..routing.corpus import generate

    def check(table: RoutingTable, requests: list[Request] | None = None) -> None:
        plan = pytestconfig.pluginmanager.get_plugin(PLAN_PLUGIN)
        if requests is None:
            requests = generate(table)
            corpus = True
        else:
            corpus = plan is not None and requests == generate(table)
        if plan is not None and table.documents is not None and corpus:
            plan.note("traefik", {**_plan_entry(table), "corpus": True})  # asked ahead next time
        observed = local_traefik(table).ask_all(requests)
        if differences := compare(table, requests, observed):
            pytest.fail(f"{len(differences)} of {len(requests)} requests: the predictor and the real Traefik "
                        "disagree:\n  " + "\n  ".join(differences), pytrace=False)

    return check
