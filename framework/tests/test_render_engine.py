"""The render engine renders as ``helm template`` does, errors included, and the setting picks it.

Each case renders once through the engine and once through the real helm CLI and requires the
same output byte for byte: stdout on success, stderr on failure (``fail``, ``required``, a schema
violation, bad ``--set`` syntax, a missing values file, a bad Kubernetes version).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from chartest.render import engine_client, helm, renderers
from chartest.render.helm import _Job
from chartest.render.manifests import parse_manifests
from selftest_support import TESTDATA, engine_in

FAILING = {
    "Chart.yaml": "apiVersion: v2\nname: failing\nversion: 0.1.0\n",
    "values.yaml": "mode: ok\nname: x\nnested: {a: 1}\n",
    "values.schema.json": '{"type": "object", "properties": {"mode": {"enum": ["ok", "fail", "required"]}}}',
    "templates/cm.yaml": (
        "{{- if eq .Values.mode \"fail\" }}{{ fail \"mode fail: refusing\" }}{{ end }}\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"name is required\" .Values.name }}\n"
        "  namespace: {{ .Release.Namespace }}\ndata:\n  on: {{ .Values.on | default \"yes\" | quote }}\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        "  helm: {{ .Capabilities.HelmVersion.Version | quote }}\n"
        "  has: {{ .Capabilities.APIVersions.Has \"example.test/v1\" | quote }}\n"),
    "templates/tests/test-pod.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n"
        "spec:\n  containers: [{name: t, image: busybox}]\n"),
}


def write_chart(directory, files: dict[str, str]):
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


@pytest.fixture(scope="module")
def failing_chart(tmp_path_factory):
    return write_chart(tmp_path_factory.mktemp("charts") / "failing", FAILING)


def both(chart, **kw) -> tuple[dict, dict]:
    job = _Job(chart, keyed=False, **kw)
    return renderers.EngineRenderer(fallback=None).submit(job).result(), renderers.CliRenderer().render(job)


def same(engine: dict, cli: dict) -> None:
    """The same output, and the engine's parsed documents (if any) are what PyYAML makes of the CLI's."""
    assert engine["ok"] == cli["ok"], (engine, cli)
    key = "stdout" if cli["ok"] else "stderr"
    assert engine[key] == cli[key]
    if engine.get("docs") is not None:
        assert as_json(engine["docs"]) == as_json([[r.source, dict(r)] for r in parse_manifests(cli["stdout"])])


def as_json(docs) -> list[str]:
    """Type-exact form (1 and 1.0 differ), one string per document."""
    return [json.dumps(d, sort_keys=True) for d in docs]


SCALARS = {
    "Chart.yaml": "apiVersion: v2\nname: scalars\nversion: 0.1.0\n",
    "templates/example.yaml": """apiVersion: v1
kind: Example
metadata: {name: scalars}
values:
  bools: [yes, No, ON, off, true, False]
  nulls: [~, null, Null, ""]
  empty:
  ints: [0755, 0x1F, 0b101, 1_000, 1:30, -42, +7, 0, 123456789012345678901234567890]
  floats: [1.0, .5, 1.e+5, 6.02e+23, -0.0, 3., 1_0.2_5]
  strings: [1e5, 0o17, "yes", 'on', 12:60, 1.2.3, v1, -, "~"]
  block: |
    multi
    line
  folded: >
    folded
    text
  anchor: &shared {x: 1, y: [a, b]}
  alias: *shared
  "quoted key": 1
{{- if .Values.stamp }}
  stamp: 2024-01-02
{{- end }}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: two}, data: {k: "v"}}
---
# only a comment
---
{}
""",
}


@pytest.fixture(scope="module")
def scalars_chart(tmp_path_factory):
    return write_chart(tmp_path_factory.mktemp("charts") / "scalars", SCALARS)


def test_the_engine_parses_yaml_1_1_scalars_as_pyyaml_does(tool_dirs, built_engine, scalars_chart):
    engine, cli = both(scalars_chart)
    assert engine["docs"] is not None, "the engine gave up on a chart it can represent"
    same(engine, cli)
    assert [d[1]["metadata"]["name"] for d in engine["docs"]] == ["scalars", "one", "two"]


def test_what_json_cannot_carry_is_left_to_python(tool_dirs, built_engine, scalars_chart):
    engine, cli = both(scalars_chart, values={"stamp": True})
    assert engine["ok"] and engine.get("docs") is None  # PyYAML makes a date of 2024-01-02
    same(engine, cli)
    for line in ("tagged: !!str 1", "merged: {<<: {a: 1}}", "on: key"):
        (scalars_chart / "templates" / "more.yaml").write_text(f"apiVersion: v1\nkind: M\n{line}\n")
        engine, cli = both(scalars_chart)
        assert engine["ok"] and engine.get("docs") is None, (line, engine)
        same(engine, cli)
    (scalars_chart / "templates" / "more.yaml").unlink()


@pytest.mark.parametrize("chart,kw", [
    ("minimal", {}),
    ("minimal", {"values": {"replicas": 3, "image": "y"}, "release": "demo", "namespace": "ns1"}),
    ("minimal", {"set": {"replicas": 5}, "api_versions": ["example.test/v1"], "kube_version": "v1.31.2"}),
    ("crd", {"extra_args": ["--include-crds"]}),
    ("crd", {}),
    ("insecure", {"extra_args": ["--set-string", "x=1"]}),
], ids=lambda v: v if isinstance(v, str) else ",".join(v) or "defaults")
def test_testdata_charts_render_the_same(tool_dirs, built_engine, chart, kw):
    engine, cli = both(TESTDATA / chart, **kw)
    assert engine["ok"], engine
    same(engine, cli)


@pytest.mark.parametrize("kw", [
    {},
    {"values": {"on": "no"}, "api_versions": ["example.test/v1"]},
    {"extra_args": ["--skip-tests"]},
    {"extra_args": ["--is-upgrade", "--no-hooks"]},
    {"values": {"mode": "fail"}},
    {"values": {"mode": "fail", "name": {"a table over": "a scalar: helm warns"}}},
    {"values": {"name": None}},
    {"values": {"mode": "neither"}},
    {"set": ["mode=fail", "a[=b"]},
    {"values_files": ["/nonexistent/values.yaml"]},
    {"kube_version": "not-a-version"},
    {"release": "Not_A_Release"},
], ids=["defaults", "values", "skip-tests", "upgrade-no-hooks", "fail", "fail-after-warning", "required", "schema", "bad-set",
        "missing-values-file", "bad-kube-version", "bad-release-name"])
def test_results_and_errors_are_the_clis(tool_dirs, built_engine, failing_chart, kw):
    engine, cli = both(failing_chart, **kw)
    same(engine, cli)


WITH_SUBCHART = {
    "Chart.yaml": "apiVersion: v2\nname: parent\nversion: 0.1.0\n",
    "values.yaml": "sub: {port: 80}\n",
    "values.schema.json": '{"type": "object", "properties": {"sub": {"type": "object"}}}',
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n",
    "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    "charts/sub/values.yaml": "port: 80\n",
    "charts/sub/values.schema.json": '{"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}',
    "charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {port: '{{ .Values.port }}'}\n",
}
EXTERNAL_REF = {
    "Chart.yaml": "apiVersion: v2\nname: external\nversion: 0.1.0\n",
    "values.yaml": "port: 80\n",
    "values.schema.json": '{"type": "object", "properties": {"port": {"$ref": "port.schema.json"}}}',
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n",
}


@pytest.mark.parametrize("files,kw", [
    (WITH_SUBCHART, {}),
    (WITH_SUBCHART, {"values": {"sub": {"port": 70000}}}),
    (WITH_SUBCHART, {"values": {"sub": "not a map"}}),
    (EXTERNAL_REF, {}),
    (EXTERNAL_REF, {"values": {"port": "x"}}),
], ids=["subchart-ok", "subchart-violation", "subchart-not-a-map", "external-ref", "external-ref-bad-value"])
def test_values_schema_checks_are_the_clis(tool_dirs, built_engine, tmp_path, files, kw):
    """The engine checks values against a schema it compiled once and lets helm skip its own check
    only where that is exact (no dependencies, a self-contained schema); the rest is helm's check."""
    engine, cli = both(write_chart(tmp_path / "chart", files), **kw)
    same(engine, cli)


def test_the_engine_compiles_a_values_schema_once_per_process(tool_dirs, built_engine, failing_chart):
    """Many renders of one chart answer as the CLI does, before and after a schema violation."""
    jobs = [_Job(failing_chart, keyed=False, values={"mode": mode, "name": f"n{i}"})
            for i, mode in enumerate(["ok", "neither", "ok", "fail", "ok", "neither"])]
    engine = renderers.EngineRenderer(fallback=None)
    results = [f.result() for f in [engine.submit(job) for job in jobs]]
    for job, result in zip(jobs, results):
        same(result, renderers.CliRenderer().render(job))
    assert [r["ok"] for r in results] == [True, False, True, False, True, False]


def test_concurrent_renders_keep_their_own_warnings_and_order(tool_dirs, built_engine, failing_chart):
    """A batch sent at once renders on every core; answers come in order, warnings with their render."""
    jobs = [_Job(failing_chart, keyed=False, values={"mode": "fail", "name": {"a": i}} if i % 2 else {"name": f"n{i}"})
            for i in range(16)]
    engine = renderers.EngineRenderer(fallback=None)
    results = [f.result() for f in [engine.submit(job) for job in jobs]]
    for i, result in enumerate(results):
        if i % 2:
            assert not result["ok"] and result["stderr"].count("warning: skipped value") == 1, result
        else:
            assert result["ok"] and f"name: n{i}" in result["stdout"]


def test_the_engine_keeps_a_chart_until_its_digest_changes(tool_dirs, built_engine, tmp_path):
    """A render naming the chart's digest of this session gets the chart as the engine loaded it
    for that digest; the next session digests the edited chart anew, and the engine loads it."""
    chart = write_chart(tmp_path / "edited", {
        "Chart.yaml": "apiVersion: v2\nname: edited\nversion: 0.1.0\n",
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n"})
    engine = renderers.EngineRenderer(fallback=None)
    assert "name: before" in engine.submit(_Job(chart)).result()["stdout"]
    (chart / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n")
    assert "name: before" in engine.submit(_Job(chart)).result()["stdout"]  # this session's digest: kept
    assert "name: after" in engine.submit(_Job(chart, keyed=False)).result()["stdout"]  # a render anew
    helm.new_session()
    assert "name: after" in engine.submit(_Job(chart)).result()["stdout"]


def test_an_edit_inside_a_symlinked_directory_is_a_new_chart(tool_dirs, built_engine, tmp_path):
    """helm's loader follows a symlinked directory, so the chart's digest does too: a later session
    renders the edit, from the render cache's key to the chart the engine keeps."""
    from chartest import render_chart

    shared = write_chart(tmp_path / "shared-templates", {
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n"})
    chart = write_chart(tmp_path / "linked", {"Chart.yaml": "apiVersion: v2\nname: linked\nversion: 0.1.0\n"})
    (chart / "templates").symlink_to(shared, target_is_directory=True)
    assert render_chart(chart).one(kind="ConfigMap").name == "before"
    (shared / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n")
    helm.new_session()
    assert render_chart(chart).one(kind="ConfigMap").name == "after"


def test_every_path_through_a_symlinked_directory_counts(tool_dirs, built_engine, tmp_path):
    """helm loads a directory's files under every path that reaches it: removing a second link to a
    directory of the chart is an edit."""
    from chartest import render_chart

    chart = write_chart(tmp_path / "twice", {
        "Chart.yaml": "apiVersion: v2\nname: twice\nversion: 0.1.0\n",
        "templates/common/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"})
    (chart / "templates" / "link").symlink_to(chart / "templates" / "common", target_is_directory=True)
    sources = lambda: sorted(r.source.split("/templates/")[1] for r in render_chart(chart))  # noqa: E731
    assert sources() == ["common/cm.yaml", "link/cm.yaml"]
    (chart / "templates" / "link").unlink()
    helm.new_session()
    assert sources() == ["common/cm.yaml"]


def test_a_chart_with_dependencies_is_loaded_anew_for_every_render(tool_dirs, built_engine):
    """Install.Run removes the dependencies a render disables from the chart it is given: the engine
    keeps no chart that declares dependencies, so the next render has its subchart again."""
    jobs = [_Job(TESTDATA / "umbrella", values={"sub": {"enabled": on}}) for on in (False, True, False, True)]
    results = [f.result() for f in [renderers.EngineRenderer(fallback=None).submit(job) for job in jobs]]
    for job, result in zip(jobs, results):
        same(result, renderers.CliRenderer().render(job))
    assert ["umbrella/charts/sub/templates/" in r["stdout"] for r in results] == [False, True, False, True]


def test_unknown_extra_arguments_render_through_the_cli(tool_dirs, built_engine, failing_chart):
    job = _Job(failing_chart, keyed=False, extra_args=["--show-only", "templates/cm.yaml"])
    assert renderers.engine_request(job) is None
    result = renderers.EngineRenderer(fallback=None).submit(job).result()
    assert result["ok"] and "kind: Pod" not in result["stdout"] and "kind: ConfigMap" in result["stdout"]


def engine_project(project, built_engine, test: str):
    """The minimal chart, the built engine in the project's state, and ``test``."""
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    engine_in(project.path / ".chartest", built_engine)
    project.test(test)
    return project


def test_a_session_with_the_engine_says_so(project, built_engine):
    engine_project(project, built_engine, """
        from chartest.render import renderers

        def test_render(render):
            assert render({"replicas": 2}).get("Deployment", "minimal-web")["spec"]["replicas"] == 2
            assert renderers.chosen().name == "engine"
    """)
    result = project.run("--render-engine=engine")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["chartest: 1 render by the render engine*"])


def test_auto_without_go_renders_with_the_cli(project, monkeypatch, tool_dirs):
    monkeypatch.setenv("PATH", ":".join([*tool_dirs, "/usr/bin", "/bin"]))
    monkeypatch.setenv("CHARTEST_RENDER_ENGINE", "auto")
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        def test_render(render):
            assert render().get("Deployment", "minimal-web")["spec"]["replicas"] == 1
    """)
    result = project.run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["chartest: 1 render by helm template*"])


def kept_engines(socket: Path) -> list[int]:
    """The processes serving ``socket`` as a kept engine (read from /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-listen" in argv and str(socket).encode() in argv:
            pids.append(int(cmdline.parent.name))
    return pids


def wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def own_kept_engine(monkeypatch, tmp_path, built_engine):
    """The socket of a kept engine no other session shares (a HELM_* variable of its own is part of
    its address), killed at the end."""
    monkeypatch.setenv("HELM_CHARTEST_SELFTEST", str(tmp_path))
    socket = engine_client.socket_path(built_engine)
    yield socket
    for pid in kept_engines(socket):
        os.kill(pid, signal.SIGKILL)


def test_a_kept_engine_serves_the_next_sessions_and_is_replaced_when_gone(project, built_engine, own_kept_engine):
    engine_project(project, built_engine, """
        def test_render(render):
            assert render({"replicas": 2}).get("Deployment", "minimal-web")["spec"]["replicas"] == 2
    """)

    def session() -> None:
        shutil.rmtree(project.path / ".chartest" / "cache", ignore_errors=True)  # the engine must render
        result = project.run("--render-engine=engine", "--render-engine-keep=60")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["chartest: 1 render by the render engine*"])

    session()
    first = kept_engines(own_kept_engine)
    assert len(first) == 1 and own_kept_engine.is_socket()
    session()
    assert kept_engines(own_kept_engine) == first  # the same process served the second session
    os.kill(first[0], signal.SIGKILL)
    assert wait_for(lambda: not kept_engines(own_kept_engine))
    session()  # a dead engine's socket is replaced
    second = kept_engines(own_kept_engine)
    assert len(second) == 1 and second != first


def test_a_kept_engine_exits_once_idle(built_engine, own_kept_engine, failing_chart):
    engine = engine_client.Engine.kept(built_engine, idle_seconds=1)
    answer = engine.submit({"chart": str(failing_chart), "release": "r", "namespace": "n"}).result(timeout=30)
    assert answer["ok"] and "kind: ConfigMap" in answer["stdout"]
    assert len(kept_engines(own_kept_engine)) == 1
    engine.close()
    assert wait_for(lambda: not kept_engines(own_kept_engine) and not own_kept_engine.exists())


def test_without_keeping_the_engine_is_this_process_child(built_engine, failing_chart):
    engine = engine_client.Engine.child(built_engine)
    assert engine.process is not None and engine.process.pid > 0
    assert engine.submit({"chart": str(failing_chart), "release": "r", "namespace": "n"}).result(timeout=30)["ok"]
    engine.close()
    assert engine.process.returncode == 0


def test_engines_started_at_once_leave_one_serving(built_engine, own_kept_engine, failing_chart):
    """Sessions starting together may each start an engine: the one holding the socket's lock
    serves, the others exit at once, and the socket stays reachable."""
    import subprocess

    starts = [subprocess.Popen([str(built_engine), "-listen", str(own_kept_engine), "-idle", "30s"],
                               stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(4)]
    assert wait_for(lambda: sum(p.poll() is None for p in starts) == 1 and own_kept_engine.is_socket())
    assert [p.returncode for p in starts if p.poll() is not None] == [0, 0, 0]
    engine = engine_client.Engine.kept(built_engine, idle_seconds=30)
    assert engine.submit({"chart": str(failing_chart), "release": "r", "namespace": "n"}).result(timeout=30)["ok"]
    assert kept_engines(own_kept_engine) == [p.pid for p in starts if p.poll() is None]
    engine.close()


def test_no_engine_is_kept_where_its_socket_path_would_be_too_long(built_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path / ("x" * 90)))
    (tmp_path / ("x" * 90)).mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    with pytest.raises(engine_client.EngineDied, match="too long"):
        engine_client.socket_path(built_engine)
    shared = engine_client._Shared()
    shared.keep_seconds = 60
    monkeypatch.setattr(engine_client, "build", lambda: built_engine)
    engine = shared()
    assert engine.process is not None  # a child of this process instead
    engine.close()
