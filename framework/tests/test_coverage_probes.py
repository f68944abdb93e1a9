"""The render engine's ``probes`` op against a render of the instrumented copy through helm.

Where the engine renders, coverage measures each request with the op (the copy's templates
parsed once and run with the values helm's Install path makes, answering only the markers
reached); elsewhere, and where the op fails, it renders the copy through helm and reads the
markers from the manifests. Both must count the same probes for every request, failing ones
included (``umbrella`` adds a subchart switched by a condition, ``.Files``, ``tpl``, ``lookup``
and a values schema to the coverage self-test charts).
"""

from __future__ import annotations

import pytest

from chartest.coverage import Collector, hits_of_probes, hits_of_render, instrument
from chartest.coverage.collect import PROBES_OP
from chartest.render import helm, renderers
from selftest_support import TESTDATA, unavailable

CASES = [
    ("covered", {}),
    ("covered", {"tier": "gold", "debug": True, "extra": {"b": "2", "a": "1"}, "owner": "me", "nameOverride": "x"}),
    ("covered", {"tier": "silver"}),
    ("covered", {"broken": True}),  # a fail: counted up to it
    ("tricky", {}),
    ("tricky", {"a": False, "b": "bee", "map": {}, "word": "w", "name": "n"}),
    ("tricky", {"empty": "e", "items": [], "missing": "m"}),
    ("tricky", {"name": ""}),  # a required that fails
    ("minimal", {}),
    ("insecure", {}),
    ("crd", {}),
    ("random", {}),
    ("umbrella", {}),
    ("umbrella", {"sub": {"enabled": False}}),
    ("umbrella", {"sub": {"size": 3}, "global": {"team": "x"}, "greeting": "hi"}),
]


@pytest.fixture(scope="module", autouse=True)
def engine():
    if renderers.chosen().name != "engine":
        unavailable("the probes op needs the render engine (render_engine setting, go)")
    try:
        renderers.chosen().start()
    except Exception as exc:  # noqa: BLE001 - MissingTool or a failed build
        unavailable(f"the render engine does not start: {exc}")


def _instrumented(chart: str):
    try:
        return instrument(TESTDATA / chart)
    except Exception as exc:  # noqa: BLE001 - MissingTool: no go to build the instrumenter
        unavailable(str(exc))


def _measured_through_helm(collector: Collector, kw: dict, monkeypatch) -> tuple[str, set[int], str]:
    with monkeypatch.context() as m:
        m.setattr(Collector, "_op", staticmethod(lambda: None))
        return collector.measure(kw)


@pytest.mark.parametrize("chart, values", CASES)
def test_the_op_counts_what_a_render_of_the_copy_counts(chart, values):
    inst = _instrumented(chart)
    answer = helm.engine_answer(PROBES_OP, inst.chart_dir, values=values)
    assert answer is not None and answer["ok"], answer
    assert hits_of_probes(inst, answer["answer"]) == hits_of_render(inst, helm.render(inst.chart_dir, values))


@pytest.mark.parametrize("chart, kw, status", [
    ("covered", {"values": {"typeError": True}}, "partial"),  # an error inside a template
    ("umbrella", {"values": {"greeting": 5}}, "before"),      # the values schema
    ("covered", {"release": "Not_A_Release_Name"}, "before"),  # the release name
])
def test_failing_renders_are_measured_as_before(chart, kw, status, monkeypatch):
    """The op fails where helm's render of the copy fails: before the templates it says so itself
    (nothing to count), inside them the request is measured through helm as before."""
    inst = _instrumented(chart)
    answer = helm.engine_answer(PROBES_OP, inst.chart_dir, **kw)
    assert answer is not None and not answer["ok"]
    assert answer["stage"] == ("templates" if status == "partial" else "before")
    collector = Collector(inst)
    with_op = collector.measure(kw)
    through_helm = _measured_through_helm(collector, kw, monkeypatch)
    assert with_op[0] == through_helm[0] == status
    assert with_op[1] == through_helm[1]
    if status == "partial":
        assert with_op[2] == through_helm[2] == "templates/account.yaml"


def test_a_cached_answer_is_not_asked_again():
    inst = _instrumented("covered")
    values = {"tier": "silver", "owner": "cached"}
    first = helm.engine_answer(PROBES_OP, inst.chart_dir, values=values)
    hits = helm.render_cache.memory_hits
    assert helm.engine_answer(PROBES_OP, inst.chart_dir, values=values) == first
    assert helm.render_cache.memory_hits == hits + 1
