"""The caches of slow work beside the render cache: ``helm lint``, the real Traefik's answers and
the upgrade comparison with the base ref. Each hit skips the work; each input change misses.

Every test runs on a state directory of its own (the caches start empty) and counts the real
work: ``helm_lints``, ``traefik_starts``, ``upgrade_comparisons``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from chartest import state
from chartest.gate import lint as lint_mod
from chartest.render import helm, renderers
from chartest.results import ResultCache

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: small\nversion: 0.1.0\nicon: https://example.test/icon.png\n",
    "values.yaml": "name: small\nport: 80\n",
    "templates/cm.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n"
                          "data:\n  port: {{ .Values.port | quote }}\n"),
}


def write_chart(directory: Path, files: dict[str, str] = CHART) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


@pytest.fixture
def own_state(tmp_path):
    """An empty state directory for this test (the render engine, if it renders, is started first:
    it is built under the real one)."""
    if renderers.chosen().name == "engine":
        renderers.chosen().start()
    lint_mod.stop_prefetch(wait=120)  # the session's lints started ahead land in the real state, not here
    previous = state._state_dir
    state.configure(tmp_path / "state")
    helm.new_session()
    yield tmp_path / "state"
    state._state_dir = previous
    helm.new_session()


def new_session() -> None:
    """What a new pytest session sees: digests computed again, nothing in this process's memory."""
    helm.new_session()
    lint_mod.lint_cache.clear_memory()


# ---------------------------------------------------------------------------------- the store

def test_result_cache_round_trip_and_foreign_entries(own_state):
    cache = ResultCache("things", version=1)
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, {"x": [1, 2]})
    assert ResultCache("things", version=1).get("ab" * 32) == {"x": [1, 2]}   # from disk
    assert ResultCache("things", version=2).get("ab" * 32) is None            # another stored form
    cache.path("cd" * 32).parent.mkdir(parents=True, exist_ok=True)
    cache.path("cd" * 32).write_text("{half a file")
    assert ResultCache("things", version=1).get("cd" * 32) is None


# ---------------------------------------------------------------------------------- helm lint

def test_lint_hit_skips_helm_and_every_input_change_misses(own_state, tmp_path):
    chart = write_chart(tmp_path / "small")
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"port": 81}))
    real = lambda: lint_mod.stats["helm_lints"]  # noqa: E731

    before = real()
    first = lint_mod.helm_lint(chart, [values])
    assert first.ok and real() == before + 1
    new_session()
    again = lint_mod.helm_lint(chart, [values])
    assert real() == before + 1, "a hit runs no lint"
    assert (again.returncode, again.output) == (first.returncode, first.output)

    (chart / "templates" / "cm.yaml").write_text(CHART["templates/cm.yaml"].replace("{{ .Values.name }}",
                                                                                   "Bad_Name"))
    new_session()
    edited = lint_mod.helm_lint(chart, [values])
    assert real() == before + 2, "a chart edit lints again"
    assert not edited.ok and any(f.file == "templates/cm.yaml" for f in edited.failures), edited.output

    values.write_text(json.dumps({"port": 82}))
    new_session()
    lint_mod.helm_lint(chart, [values])
    assert real() == before + 3, "a values edit lints again"
    lint_mod.helm_lint(chart, [values], kube_version="v1.33.0")
    assert real() == before + 4, "another Kubernetes version lints again"
    lint_mod.helm_lint(chart, [values], strict=False)
    assert real() == before + 5, "without --strict: another lint"


def test_lint_cache_misses_for_another_helm(own_state, tmp_path, monkeypatch):
    chart = write_chart(tmp_path / "small")
    before = lint_mod.stats["helm_lints"]
    lint_mod.helm_lint(chart)
    monkeypatch.setattr(renderers.chosen(), "identity", lambda: "helm:another-build")
    lint_mod.helm_lint(chart)
    assert lint_mod.stats["helm_lints"] == before + 2


@pytest.mark.parametrize("case", ["clean", "warning", "error", "bad-values"])
def test_engine_lints_as_the_helm_cli(tmp_path, case):
    """The render engine's lint (helm's pkg/action Lint) prints what ``helm lint`` prints."""
    from chartest import find_tool

    if renderers.chosen().name != "engine" or not renderers.chosen().start():
        pytest.fail(f"the render engine does not run here ({renderers.fallback_reason}): nothing to compare")
    files = dict(CHART)
    if case == "warning":   # no icon: [INFO]; a non-string label value: a --strict failure
        files["Chart.yaml"] = "apiVersion: v2\nname: small\nversion: 0.1.0\n"
        files["templates/cm.yaml"] = CHART["templates/cm.yaml"].replace(
            "data:", "  labels:\n    a: {{ .Values.port }}\ndata:")
    if case == "error":
        files["templates/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"  # not YAML
    chart = write_chart(tmp_path / "small", files)
    values = tmp_path / "values.yaml"
    values.write_text("port: [\n" if case == "bad-values" else "port: 81\n")
    kube = "v1.34.1"
    engine = lint_mod._engine_lint(chart, [values], kube, True)
    cli = lint_mod._cli_lint(chart, [values], kube, True)
    assert engine is not None
    assert (engine["returncode"], engine["stdout"]) == (cli["returncode"], cli["stdout"])
    assert engine["stderr"] == cli["stderr"]
    assert (cli["returncode"] == 0) == (case == "clean"), cli


# ---------------------------------------------------------------------------------- the real Traefik

def _table(host: str = "shop.test", prefix: str = "/api"):
    from chartest.routing import RoutingTable

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
           "spec": {"ports": [{"name": "http", "port": 80}]}}
    www = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "www"},
           "spec": {"ports": [{"name": "http", "port": 80}]}}
    route = {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": "r"},
             "spec": {"entryPoints": ["web"], "routes": [
                 {"match": f"Host(`{host}`) && PathPrefix(`{prefix}`)", "kind": "Rule",
                  "services": [{"name": "api", "port": 80}]},
                 {"match": f"Host(`{host}`)", "kind": "Rule", "services": [{"name": "www", "port": 80}]}]}}
    return RoutingTable.from_manifests([svc, www, route])


def test_traefik_answers_hit_without_starting_it_and_miss_on_any_change(own_state, tmp_path):
    from chartest.routing import Request, traefik_binary
    from chartest.routing import verdicts

    requests = [Request("GET", "shop.test", "/apix"), Request("GET", "shop.test", "/api/x")]
    starts = lambda: verdicts.stats["traefik_starts"]  # noqa: E731
    before = starts()

    first = verdicts.TraefikAnswers(_table())
    answers = [o.service for o in first.ask_all(requests)]
    assert answers == ["api", "api"] and starts() == before + 1  # the real Traefik: PathPrefix is a string prefix
    first.stop()

    verdicts.answer_cache.clear_memory()
    again = verdicts.TraefikAnswers(_table())
    assert [o.service for o in again.ask_all(requests)] == answers
    assert not again.started and starts() == before + 1, "a hit starts no Traefik"

    other_request = verdicts.TraefikAnswers(_table())
    assert other_request.ask(Request("GET", "shop.test", "/")).service == "www"
    assert other_request.started and starts() == before + 2, "another request: the real Traefik answers"
    other_request.stop()

    changed = verdicts.TraefikAnswers(_table(prefix="/api/"))  # another route: another configuration
    assert [o.service for o in changed.ask_all(requests)] == ["www", "api"]
    assert starts() == before + 3
    changed.stop()

    copy = tmp_path / "bin" / "traefik"   # another Traefik binary (as a version bump gives)
    copy.parent.mkdir()
    shutil.copy2(traefik_binary(), copy)
    subprocess.run(["touch", "-d", "2001-01-01", str(copy)], check=True)
    other_binary = verdicts.TraefikAnswers(_table(), binary=str(copy))
    assert other_binary.key != again.key
    assert [o.service for o in other_binary.ask_all(requests)] == answers
    assert starts() == before + 4
    other_binary.stop()


# ---------------------------------------------------------------------------------- upgrade from the base ref

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_upgrade_comparison_hit_skips_it_and_base_chart_or_values_changes_miss(own_state, tmp_path):
    from chartest.gate import chart_gate

    repo = tmp_path / "repo"
    chart = write_chart(repo / "chart")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"port": 81}))
    vs = chart_gate.ValuesSet(str(values), (values,))
    compared = lambda: chart_gate.upgrade_stats["upgrade_comparisons"]  # noqa: E731

    def findings(base_ref: str = "HEAD") -> list:
        new_session()
        chart_gate.upgrade_cache.clear_memory()
        gate = chart_gate.ChartGate(chart, base_ref)
        try:
            return [(f.check, f.ref) for f in gate.upgrade_findings(vs)]
        finally:
            gate.close()

    before = compared()
    assert findings() == [] and compared() == before + 1
    assert findings() == [] and compared() == before + 1, "a hit compares nothing"

    (chart / "templates" / "cm.yaml").write_text(CHART["templates/cm.yaml"].replace("ConfigMap", "Secret"))
    assert findings() == [("removed-resource", "ConfigMap/small")] and compared() == before + 2, "chart edit"
    values.write_text(json.dumps({"port": 82}))
    assert findings() == [("removed-resource", "ConfigMap/small")] and compared() == before + 3, "values edit"
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "secret")
    assert findings() == [] and compared() == before + 4, "another base commit"
    assert findings("HEAD~1") == [("removed-resource", "ConfigMap/small")] and compared() == before + 4, \
        "the first base commit again: its comparison is kept"


def test_lint_of_a_relative_chart_path_lints_that_chart(own_state, tmp_path, monkeypatch):
    """The engine (kept between sessions, it works from another directory) gets the chart's full path."""
    write_chart(tmp_path / "small")
    monkeypatch.chdir(tmp_path)
    result = lint_mod.helm_lint("small", cache=False)
    assert result.ok, result.output


# ---------------------------------------------------------------------------------- started ahead

def test_prefetched_lint_is_the_one_the_test_gets(own_state, tmp_path):
    """A lint started ahead (the render plan does at session start) runs once; the test asking for
    it while it runs waits for that answer instead of linting again."""
    chart = write_chart(tmp_path / "small")
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"port": 83}))
    before = lint_mod.stats["helm_lints"]
    request = {"chart": str(chart), "values_files": [str(values)], "kube_version": None, "strict": True}
    gone = {**request, "values_files": [str(tmp_path / "not-there.json")]}
    assert lint_mod.prefetch([request, request, gone]) == 1  # once; a missing values file is not linted ahead
    result = lint_mod.helm_lint(chart, [values])
    assert result.ok, result.output
    deadline = time.monotonic() + 30
    while lint_mod._in_flight and time.monotonic() < deadline:  # the duplicate finds it stored
        time.sleep(0.01)
    assert lint_mod.stats["helm_lints"] == before + 1
    assert lint_mod.prefetch([request]) == 0  # stored now


def test_prestarted_traefik_is_taken_over_and_has_answered_its_requests(own_state):
    from chartest.routing import Request
    from chartest.routing import verdicts

    table = _table(host="ahead.test")
    requests = [Request("GET", "ahead.test", "/apix"), Request("GET", "ahead.test", "/")]
    before = verdicts.stats["traefik_starts"]
    assert verdicts.prestart(table, requests)
    assert not verdicts.prestart(table, requests)  # once per configuration
    answers = verdicts.TraefikAnswers(table)
    assert answers.started and verdicts.stats["traefik_starts"] == before + 1  # taken over, not started again
    assert [o.service for o in answers.ask_all(requests)] == ["api", "www"]
    answers.stop()
    verdicts.answer_cache.clear_memory()
    assert verdicts.answer_cache.get(answers.key) is not None
    assert not verdicts.prestart(table)  # answered before: nothing to start
    verdicts.stop_prestarted()


def test_schema_verdicts_hit_without_validating_and_miss_on_another_resource_or_bundle(own_state, tmp_path,
                                                                                      monkeypatch):
    from chartest import pins
    from chartest.render import schemas

    validated = []
    real = schemas.SchemaSet._validator
    monkeypatch.setattr(schemas.SchemaSet, "_validator", lambda self, gvk: validated.append(gvk) or real(self, gvk))
    kube = pins.get("kubernetes.version")
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": "x"}]}}

    first = schemas.SchemaSet(kube).validate_all([config_map, bad])
    assert len(validated) == 2 and first and all(v.resource == "Service/s" for v in first)

    schemas.verdict_cache.clear_memory()  # a new session
    again = schemas.SchemaSet(kube)
    assert again.validate_all([config_map, bad]) == first
    assert len(validated) == 2 and again._bundle is None  # neither validated nor the bundle loaded

    assert not again.validate_all([{**config_map, "data": {"k": "w"}}]) and len(validated) == 3
    crd = tmp_path / "crd.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "testdata" / "crd" / "crds" / "widgets.yaml", crd)
    assert schemas.SchemaSet(kube, [str(crd)]).validate_all([bad]) == first
    assert len(validated) == 4  # another bundle: validated anew

    # a date (PyYAML's, of an unquoted annotation) is not the string of its text: neither verdict
    # may stand for the other, in either order, in this session or the next
    dated = {**config_map, "metadata": {"name": "c", "annotations": {"released": datetime.date(2024, 1, 1)}}}
    quoted = {**config_map, "metadata": {"name": "c", "annotations": {"released": "2024-01-01"}}}
    for order in ([dated, quoted], [quoted, dated]):
        schemas.verdict_cache.clear_memory()
        judged = [schemas.SchemaSet(kube).validate(r) for r in order]
        assert [bool(j) for j in judged] == [r is dated for r in order]
