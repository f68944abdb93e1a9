"""Render prefetching after a chart edit (chartest.render.prefetch, chartest.render_plan).

Here rather than in tests/unit: these render private copies of the chart and
run pytest in subprocesses, which the unit tier's speed goal cannot afford.
"""

from chartest import render as render_mod


def _edited_copy(chart_dir, tmp_path):
    """A copy of the chart with one template changed: every cached render of it is stale."""
    import shutil
    import uuid

    chart = tmp_path / "chart"
    shutil.copytree(chart_dir, chart)
    notes = chart / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + f"\n{{{{/* edit {uuid.uuid4().hex} */}}}}\n")
    return chart


def test_prefetch_runs_helm_once_per_key(chart_dir, tmp_path, monkeypatch):
    chart = _edited_copy(chart_dir, tmp_path)
    calls, real_helm = [], render_mod._run_helm

    def counting(chart_arg, values, *rest):
        if chart_arg == chart.resolve():
            calls.append(values["api"]["replicas"])
        return real_helm(chart_arg, values, *rest)

    monkeypatch.setattr(render_mod, "_run_helm", counting)
    requests = [{"values": {"api": {"replicas": n}}} for n in (2, 3, 3)]
    assert render_mod.prefetch(chart, requests) == 2  # duplicates are queued once
    for n in (3, 2, 3):
        assert render_mod.render(chart, {"api": {"replicas": n}}).get("Deployment", "api")["spec"]["replicas"] == n
    assert sorted(calls) == [2, 3]
    assert render_mod.prefetch(chart, requests) == 0  # both are cached now


def test_render_plan_prefetches_after_a_chart_edit(pytester, chart_dir, tmp_path):
    chart = _edited_copy(chart_dir, tmp_path)
    pytester.makepyfile(test_plan="""
        def test_replicas(render):
            assert render({"api": {"replicas": 4}}).get("Deployment", "api")["spec"]["replicas"] == 4
    """)
    first = pytester.runpytest_subprocess(f"--chart={chart}", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=1)
    assert "prefetched" not in first.stdout.str()  # nothing recorded yet

    notes = chart / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + "\n{{/* another edit */}}\n")
    second = pytester.runpytest_subprocess(f"--chart={chart}", "-p", "no:cacheprovider")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["chartest: prefetched 1 render in parallel*"])
