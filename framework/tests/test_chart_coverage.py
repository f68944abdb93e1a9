"""Template coverage (``--chart-cov``) on ``testdata/covered``, whose expected coverage is known.

The chart has an ``if``/``else if``/``else`` in a define, a ``range`` with an
``else``, ``with``, ``default``, ``ternary``, a ``fail``, a define that is
called and one that never is, and a branch no test reaches (``neverSet``).
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest

from chartest.coverage import Coverage, hits_of_render, instrument
from chartest.render import helm
from selftest_support import TESTDATA, unavailable

CHART = TESTDATA / "covered"

INNER_TESTS = """
def test_defaults(render):
    assert render().get("ConfigMap", "covered")["data"] == {"tier": "basic", "mode": "quiet", "extra": "none"}

def test_gold(render):
    m = render({"tier": "gold", "debug": True, "extra": {"a": "1"}, "owner": "me", "nameOverride": "x"})
    assert m.get("ConfigMap", "x")["data"] == {"tier": "premium", "mode": "debug", "a": "1", "owner": "me"}

def test_silver(render):
    assert render({"tier": "silver"}).get("ConfigMap", "covered")["data"]["tier"] == "standard"

def test_broken(render_fails):
    render_fails({"broken": True}, match="broken is set")

def test_type_error(render_fails):
    render_fails({"typeError": True}, match="index")
"""


@pytest.fixture(scope="module")
def covered():
    try:
        return instrument(CHART)
    except Exception as exc:  # noqa: BLE001 - MissingTool: no go to build the instrumenter
        unavailable(str(exc))


def _probe(inst, **match):
    found = [p for p in inst.probes.values() if all(getattr(p, k) == v for k, v in match.items())]
    assert found, f"no probe {match}"
    return found


def test_probe_map_names_every_construct(covered):
    assert {p.what for p in covered.probes.values() if p.kind == "define"} == {
        "covered.name", "covered.tier", "covered.unused"}
    assert {(p.line, p.branch) for p in _probe(covered, file="templates/_helpers.tpl", kind="branch", what="else if")} == {
        (9, "then"), (11, "else")}
    assert _probe(covered, file="templates/_helpers.tpl", line=7, kind="branch")[0].what == "if"
    assert {p.branch for p in _probe(covered, file="templates/configmap.yaml", kind="branch", what="range")} == {
        "then", "else"}
    assert {p.branch for p in _probe(covered, file="templates/_helpers.tpl", line=3, what="default", kind="branch")} == {
        "fallback", "given"}
    assert {p.branch for p in _probe(covered, file="templates/configmap.yaml", line=10, what="ternary", kind="branch")} == {
        "true", "false"}
    assert _probe(covered, file="templates/configmap.yaml", line=2, kind="stop")[0].what == "fail"
    # a range over a literal list, or over `.` right inside a with, is never empty: no else branch
    assert {p.branch for p in _probe(covered, file="templates/account.yaml", kind="branch", what="range")} == {"then"}
    assert covered.execution_order() == ["templates/service.yaml", "templates/configmap.yaml",
                                         "templates/account.yaml", "templates/NOTES.txt"]


@pytest.mark.parametrize("chart, values", [
    ("covered", {}),
    ("covered", {"tier": "gold", "debug": True, "extra": {"b": "2", "a": "1"}, "owner": "me"}),
    ("covered", {"tier": "silver", "nameOverride": "n"}),
    ("tricky", {}),
    ("tricky", {"a": False, "b": "bee", "map": {}, "word": "w", "name": "n"}),
    ("tricky", {"empty": "e", "items": [], "missing": "m"}),
    ("minimal", {}),
    ("insecure", {}),
    ("crd", {}),
    ("umbrella", {}),
])
def test_instrumented_copy_computes_what_the_chart_does(chart, values):
    """Markers never reach what templates compute: the copy, printing its text instead of its
    probes, renders byte for byte like the chart."""
    try:
        transparent = instrument(TESTDATA / chart, transparent=True)
    except Exception as exc:  # noqa: BLE001 - MissingTool: no go
        unavailable(str(exc))
    real = helm.render(TESTDATA / chart, values).raw
    assert real.strip()
    assert helm.render(transparent.chart_dir, values).raw == real


def test_a_failing_render_counts_what_it_reached_before_the_fail(covered):
    hits = hits_of_render(covered, helm.render(covered.chart_dir, {"broken": True}))
    reached = Coverage(covered, dict.fromkeys(hits, 1))
    configmap, service, account = (reached.files[f"templates/{n}.yaml"] for n in ("configmap", "service", "account"))
    assert all(service.lines.values()), "service.yaml runs before configmap.yaml: fully reached"
    assert configmap.lines[1] and configmap.lines[2], "the if and the fail ran"
    assert not configmap.lines[4] and not configmap.lines[9], "nothing after the fail"
    assert not any(account.lines.values()), "account.yaml runs after configmap.yaml: never reached"


def test_a_render_erroring_in_a_template_counts_the_templates_before_it(covered):
    """An error that is no fail/required (here: index of a number) stops helm in account.yaml:
    service.yaml and configmap.yaml ran before it and count; account.yaml itself does not."""
    from chartest.coverage import Collector

    status, hits, where = Collector(covered).measure({"values": {"typeError": True}})
    assert (status, where) == ("partial", "templates/account.yaml")
    reached = Coverage(covered, dict.fromkeys(hits, 1))
    assert all(reached.files["templates/service.yaml"].lines.values())
    assert reached.files["templates/configmap.yaml"].lines[9], "configmap.yaml ran"
    assert not any(reached.files["templates/account.yaml"].lines.values())
    assert not any(reached.files["templates/NOTES.txt"].lines.values()), "NOTES.txt runs after account.yaml"


def _term(result) -> dict[str, str]:
    """Template -> its 'Missing' column, from the term report."""
    rows = {}
    for line in result.outlines:
        m = re.match(r"^(templates/\S+|TOTAL)\s+\d+\s+\d+\s+[\d.]+%\s+\d+\s+\d+\s+[\d.]+%\s*(.*)$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


@pytest.fixture
def covered_project(project):
    project.chart("covered")
    project.ini(chartest_chart="covered")
    project.test(INNER_TESTS, name="test_covered")
    return project


def test_report_lists_exactly_what_no_test_reached(covered_project):
    result = covered_project.run("--chart-cov", "--chart-cov-report=term", "--chart-cov-report=lcov:out/cov.lcov",
                                 "--chart-cov-report=cobertura:out/cov.xml", "--chart-cov-report=html:out/html")
    result.assert_outcomes(passed=5)
    rows = _term(result)
    assert rows["templates/configmap.yaml"] == "20, 19:if->then"
    assert rows["templates/_helpers.tpl"] == "16-17"
    assert rows["templates/service.yaml"] == rows["templates/NOTES.txt"] == ""
    assert rows["templates/account.yaml"] == "16, 15:if->then"  # typeError: its only render errors there
    result.stdout.fnmatch_lines(["defines never called: covered.unused (templates/_helpers.tpl:16)",
                                 "1 render(s) failed inside a template, counted up to that template (not inside it): "
                                 "templates/account.yaml"])

    lcov = (covered_project.path / "out/cov.lcov").read_text()
    assert "SF:covered/templates/configmap.yaml" in lcov and "DA:20,0" in lcov and "FNDA:0,covered.unused" in lcov
    xml = ET.parse(covered_project.path / "out/cov.xml").getroot()
    cls = next(c for c in xml.iter("class") if c.get("name") == "templates/configmap.yaml")
    assert [line.get("number") for line in cls.iter("line") if line.get("hits") == "0"] == ["20"]
    index = (covered_project.path / "out/html/index.html").read_text()
    assert "templates/configmap.yaml" in index
    page = (covered_project.path / "out/html/templates__configmap.yaml.html").read_text()
    assert "class='miss'" in page and "unreachable" in page


def test_removing_a_test_reports_the_lines_it_covered(covered_project):
    """Without test_silver, the else-if branch and its line (only that test reached) are listed."""
    full = _term(covered_project.run("--chart-cov"))
    without = _term(covered_project.run("--chart-cov", "--deselect", "test_covered.py::test_silver"))
    assert full["templates/_helpers.tpl"] == "16-17"
    assert without["templates/_helpers.tpl"] == "10, 16-17, 9:else if->then"
    assert without["templates/configmap.yaml"] == full["templates/configmap.yaml"]


def test_xdist_workers_add_up_to_the_serial_run(covered_project):
    serial = covered_project.run("--chart-cov", "--chart-cov-report=lcov:serial.lcov")
    parallel = covered_project.run("--chart-cov", "--chart-cov-report=lcov:parallel.lcov", "-n", "2", "-p", "xdist")
    parallel.assert_outcomes(passed=5)
    read = lambda name: (covered_project.path / name).read_text()  # noqa: E731
    hit_lines = lambda text: sorted(l for l in text.splitlines() if l.startswith(("DA:", "BRDA:", "FNDA:")) and not  # noqa: E731
                                    l.endswith((",0", ",-")))
    assert hit_lines(read("parallel.lcov")) == hit_lines(read("serial.lcov"))
    assert _term(parallel) == _term(serial)


def test_fail_under_fails_the_session(covered_project):
    failing = covered_project.run("--chart-cov", "--chart-cov-fail-under=99")
    assert failing.ret == 1
    failing.stdout.fnmatch_lines(["FAIL: chart coverage * is below --chart-cov-fail-under=99"])
    covered_project.run("--chart-cov", "--chart-cov-fail-under=80").assert_outcomes(passed=5)
    env_set = covered_project.pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chart-cov")
    assert env_set.ret == 0


def test_settings_come_from_ini_and_env(covered_project, monkeypatch):
    covered_project.ini(chartest_chart="covered", chartest_chart_cov="true", chartest_chart_cov_fail_under="99")
    assert covered_project.run().ret == 1
    monkeypatch.setenv("CHARTEST_CHART_COV_FAIL_UNDER", "50")
    result = covered_project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*reaches --chart-cov-fail-under=50*"])
