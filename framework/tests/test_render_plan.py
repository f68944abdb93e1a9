"""Render prefetching after a chart edit (chartest.render.helm.prefetch, chartest.plugin.work_plan).

Each test writes a chart of its own, so every render of it is new to the cache.
"""

import json
import uuid

import chartest.render.helm as helm_mod

CHART_YAML = "apiVersion: v2\nname: plan\nversion: 0.1.0\n"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: "app:1"}]}
"""


def _chart(tmp_path):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML)
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT + f"# {uuid.uuid4().hex}\n")
    return chart


def test_prefetch_runs_helm_once_per_key(tmp_path, monkeypatch):
    chart = _chart(tmp_path)
    calls, real_submit = [], helm_mod._submit

    def counting(job):
        if job.chart_dir == chart.resolve():
            calls.append(job.values["replicas"])
        return real_submit(job)

    monkeypatch.setattr(helm_mod, "_submit", counting)
    requests = [{"values": {"replicas": n}} for n in (2, 3, 3)]
    assert helm_mod.prefetch(chart, requests) == 2  # duplicates are queued once
    for n in (3, 2, 3):
        assert helm_mod.render(chart, {"replicas": n}).get("Deployment", "app")["spec"]["replicas"] == n
    assert sorted(calls) == [2, 3]
    assert helm_mod.prefetch(chart, requests) == 0  # both are cached now


def test_a_render_not_prefetched_waits_behind_the_window_only(tmp_path, monkeypatch, built_engine):
    """The engine answers in order: prefetches go to it PREFETCH_WINDOW at a time, so a render a
    test needs now (here a queued one, taken over) waits behind a few renders, not all of them."""
    from chartest.render import renderers

    engine = renderers.EngineRenderer(fallback=None)
    monkeypatch.setattr(renderers, "chosen", lambda: engine)
    chart = _chart(tmp_path)
    sent, at_engine, real_submit = [], [0, 0], helm_mod._submit  # at_engine: now, most
    ahead_of = {}  # replicas -> renders at the engine when it was sent

    def counting(job):
        sent.append(job.values["replicas"])
        ahead_of[job.values["replicas"]] = at_engine[0]
        at_engine[0] += 1
        at_engine[1] = max(at_engine)
        future = real_submit(job)
        future.add_done_callback(lambda _: at_engine.__setitem__(0, at_engine[0] - 1))
        return future

    monkeypatch.setattr(helm_mod, "_submit", counting)
    assert helm_mod.prefetch(chart, [{"values": {"replicas": n}} for n in range(1, 61)]) == 60
    assert helm_mod.render(chart, {"replicas": 60}).get("Deployment", "app")["spec"]["replicas"] == 60
    # the last one queued waited behind the window at most, not behind the 59 others (however fast
    # the engine got through them meanwhile on a loaded machine)
    assert ahead_of[60] <= helm_mod.PREFETCH_WINDOW, (ahead_of[60], sent)
    for n in range(1, 60):
        assert helm_mod.render(chart, {"replicas": n}).get("Deployment", "app")["spec"]["replicas"] == n
    assert sorted(sent) == list(range(1, 61))  # each rendered once
    assert at_engine[1] <= helm_mod.PREFETCH_WINDOW + 1  # the window, and the one taken over


def test_render_plan_prefetches_after_a_chart_edit(pytester, inner_env, tmp_path):
    chart = _chart(tmp_path)
    pytester.makepyfile(test_plan="""
        def test_replicas(render):
            assert render({"replicas": 4}).get("Deployment", "app")["spec"]["replicas"] == 4
    """)
    first = pytester.runpytest_subprocess(f"--chart={chart}", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=1)
    assert "prefetched" not in first.stdout.str()  # nothing recorded yet

    template = chart / "templates" / "deployment.yaml"
    template.write_text(template.read_text() + "# another edit\n")
    second = pytester.runpytest_subprocess(f"--chart={chart}", "-p", "no:cacheprovider")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["chartest: prefetched 1 render in parallel*"])


ROUTE = """apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: app}
spec:
  entryPoints: [web]
  routes:
    - {match: "Host(`plan.test`)", kind: Rule, services: [{name: app, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{name: http, port: 80}]}
"""


def test_a_committed_plan_starts_renders_lints_and_traefik_ahead_in_a_fresh_clone(pytester, inner_env, tmp_path):
    """The `plan` setting names a file in the repository, written only with --chartest-plan-update
    (paths relative to the rootdir, one test per line, pytest-xdist workers' records handed to the
    controller); a session with no chartest state at all (a fresh clone) starts what it lists ahead
    of the tests and leaves the file alone; an update drops the tests that are gone."""
    chart = _chart(pytester.path)
    (chart / "templates" / "route.yaml").write_text(ROUTE)
    values = pytester.path / "ci-values.yaml"
    values.write_text("replicas: 2\n")
    tests = """
        from chartest.gate.lint import helm_lint

        def test_replicas(render):
            assert render({"replicas": 4}).get("Deployment", "app")["spec"]["replicas"] == 4

        def test_lint(chart_dir):
            assert helm_lint(chart_dir, ["ci-values.yaml"]).ok

        def test_route(routing_table, local_traefik):
            from chartest.routing import Request

            table = routing_table({"replicas": 4})
            assert local_traefik(table).ask(Request("GET", "plan.test", "/")).service == "app"
    """
    pytester.makepyfile(test_plan=tests)
    plan = pytester.path / "tests-plan.json"
    args = ["--chart=chart", f"--chartest-plan={plan.name}", "-p", "no:cacheprovider"]
    first = pytester.runpytest_subprocess(*args, "--chartest-state=state-1")
    first.assert_outcomes(passed=3)
    assert not plan.exists(), "written only when asked"
    update = pytester.runpytest_subprocess(*args, "--chartest-state=state-1", "--chartest-plan-update", "-n", "2")
    update.assert_outcomes(passed=3)
    text = plan.read_text()
    lines = text.splitlines()
    assert lines[0].startswith('{"format": 2, "chart": "chart"') and len(lines) == 5, text  # a line per test
    recorded = json.loads(text)["tests"]
    assert set(recorded) == {"test_plan.py::test_replicas", "test_plan.py::test_lint", "test_plan.py::test_route"}
    assert recorded["test_plan.py::test_lint"]["lint"][0]["chart"] == "chart"  # relative: the file is portable
    assert recorded["test_plan.py::test_lint"]["lint"][0]["values_files"] == ["ci-values.yaml"]
    assert str(pytester.path) not in text and "helm.sh/chart" not in text  # no labels: a version bump keeps it
    assert {"render", "traefik"} <= set(recorded["test_plan.py::test_route"])
    written = plan.stat().st_mtime_ns

    fresh = pytester.runpytest_subprocess(*args, "--chartest-state=state-2")  # nothing cached anywhere
    fresh.assert_outcomes(passed=3)
    fresh.stdout.fnmatch_lines(["chartest: prefetched 1 render in parallel*",
                                "chartest: started ahead of their tests: 1 Traefik start, 1 lint"])
    assert plan.stat().st_mtime_ns == written, "a session without --chartest-plan-update leaves the file alone"

    pytester.makepyfile(test_plan=tests.replace("def test_lint(", "def test_lint_renamed("))
    one = pytester.runpytest_subprocess("test_plan.py::test_replicas", *args, "--chartest-state=state-2",
                                        "--chartest-plan-update")
    one.assert_outcomes(passed=1)
    assert set(json.loads(plan.read_text())["tests"]) == set(recorded), "one test selected: the others stay"
    renamed = pytester.runpytest_subprocess(*args, "--chartest-state=state-2", "--chartest-plan-update")
    renamed.assert_outcomes(passed=3)
    assert set(json.loads(plan.read_text())["tests"]) == {
        "test_plan.py::test_replicas", "test_plan.py::test_lint_renamed", "test_plan.py::test_route"}
