"""The release gate (chartest.gate) on small charts and git repositories of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chartest import Manifests, Resource, find_tool
from chartest.gate import SemVer, SemVerError, compare_manifests, removed_value_keys
from chartest.gate.gitref import default_base_ref
from chartest.gate.lint import parse_lint_output

# ---------------------------------------------------------------- SemVer


def test_semver_precedence_follows_the_spec():
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    parsed = [SemVer.parse(v) for v in order]
    assert parsed == sorted(reversed(parsed))
    assert SemVer.parse("1.2.3+build.5") == SemVer.parse("1.2.3")      # build metadata has no precedence
    assert SemVer.parse("0.10.0") > SemVer.parse("0.9.9")              # numbers, not strings


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3-", "v", "1.2.3.4", "latest"])
def test_semver_rejects_non_semver(bad):
    with pytest.raises(SemVerError, match="not a SemVer"):
        SemVer.parse(bad)


@pytest.mark.parametrize("base, new, breaking", [
    ("1.4.2", "2.0.0", True), ("1.4.2", "1.5.0", False), ("0.3.1", "0.4.0", True), ("0.3.1", "0.3.2", False),
    ("0.0.3", "0.0.4", True), ("1.4.2", "2.0.0-rc.1", True), ("2.0.0", "1.9.0", False)])
def test_breaking_bump(base, new, breaking):
    assert SemVer.parse(new).is_breaking_bump_from(SemVer.parse(base)) is breaking


# ---------------------------------------------------------------- lint output

LINT_OUTPUT = """\
==> Linting chart
[INFO] Chart.yaml: icon is recommended
[ERROR] templates/: template: tiny/templates/deploy.yaml:5:20: executing "tiny/templates/deploy.yaml" at <.Values.nope.x>: nil pointer evaluating interface {}.x
[ERROR] templates/cm.yaml: unable to parse YAML: error converting YAML to JSON: yaml: line 7: did not find expected key
[WARNING] templates/cm.yaml: object name does not conform to Kubernetes naming requirements: "X_bad"
[ERROR] values.yaml: - at '': additional properties 'nope' not allowed

Error: 1 chart(s) linted, 1 chart(s) failed
"""


def test_lint_findings_name_file_and_line():
    found = parse_lint_output(LINT_OUTPUT, "ci.yaml")
    assert [(f.severity, f.file, f.line) for f in found] == [
        ("INFO", "Chart.yaml", None), ("ERROR", "templates/deploy.yaml", 5), ("ERROR", "templates/cm.yaml", 7),
        ("WARNING", "templates/cm.yaml", None), ("ERROR", "values.yaml", None)]
    assert [f.fails for f in found] == [False, True, True, True, True]
    assert found[4].where() == "ci.yaml"                     # a values error points at the values file
    assert str(found[1]).startswith("templates/deploy.yaml:5: [ERROR] template:")


# ---------------------------------------------------------------- manifests comparison


def res(kind, name, spec=None, **top):
    api = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1"}.get(kind, "v1")
    return Resource({"apiVersion": api, "kind": kind, "metadata": {"name": name, **top.pop("meta", {})},
                     **({"spec": spec} if spec is not None else {}), **top})


def sts(name="db", vct_size="1Gi", **spec):
    return res("StatefulSet", name, {
        "selector": {"matchLabels": {"app": name}}, "serviceName": name, "replicas": 1,
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": vct_size}}}}], **spec})


def findings(old, new):
    return [(f.check, f.ref, f.path) for f in compare_manifests(Manifests(old), Manifests(new))]


def test_deployment_selector_change_names_resource_and_field():
    old = res("Deployment", "api", {"selector": {"matchLabels": {"app": "api"}}, "replicas": 1})
    new = res("Deployment", "api", {"selector": {"matchLabels": {"app": "api", "app.kubernetes.io/tier": "x"}},
                                    "replicas": 3})
    [f] = compare_manifests(Manifests([old]), Manifests([new]), "prod.yaml")
    assert (f.check, f.ref, f.path) == ("immutable", "Deployment/api",
                                        'spec.selector.matchLabels["app.kubernetes.io/tier"]')
    assert "(absent) -> x" in str(f) and "field is immutable" in str(f) and "[values: prod.yaml]" in str(f)


def test_statefulset_immutable_fields_and_defaults():
    assert findings([sts()], [sts(replicas=3, podManagementPolicy="OrderedReady")]) == []  # explicit default
    assert findings([sts()], [sts(podManagementPolicy="Parallel")]) == [
        ("immutable", "StatefulSet/db", "spec.podManagementPolicy")]
    assert findings([sts()], [sts(serviceName="db-headless")]) == [
        ("immutable", "StatefulSet/db", "spec.serviceName")]
    assert findings([sts()], [sts(vct_size="5Gi")]) == [
        ("immutable", "StatefulSet/db", "spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage")]


def test_renamed_statefulset_and_pvc_orphan_data():
    old = [sts("db"), res("PersistentVolumeClaim", "uploads", {"accessModes": ["ReadWriteOnce"]})]
    new = [sts("database"), res("PersistentVolumeClaim", "files", {"accessModes": ["ReadWriteOnce"]})]
    found = compare_manifests(Manifests(old), Manifests(new))
    assert [(f.check, f.ref) for f in found] == [("orphan", "StatefulSet/db"),
                                                 ("orphan", "PersistentVolumeClaim/uploads")]
    assert "renamed to database?" in found[0].detail and "data-db-<ordinal>" in found[0].detail
    assert "DELETED by helm" in found[1].detail


def test_pvc_may_only_grow():
    def pvc(size, cls="fast"):
        return res("PersistentVolumeClaim", "d", {"storageClassName": cls,
                                                  "resources": {"requests": {"storage": size}}})
    assert findings([pvc("1Gi")], [pvc("2Gi")]) == []
    assert findings([pvc("2Gi")], [pvc("1500Mi")]) == [
        ("immutable", "PersistentVolumeClaim/d", "spec.resources.requests.storage")]
    assert findings([pvc("1Gi")], [pvc("1Gi", "slow")]) == [
        ("immutable", "PersistentVolumeClaim/d", "spec.storageClassName")]


def test_service_cluster_ip_and_type():
    def svc(**spec):
        return res("Service", "s", {"ports": [{"port": 80}], **spec})
    assert findings([svc()], [svc(type="NodePort")]) == []
    assert findings([svc()], [svc(clusterIP="10.96.0.10")]) == [("immutable", "Service/s", "spec.clusterIP")]
    assert findings([svc(clusterIP="None")], [svc()]) == [("immutable", "Service/s", "spec.clusterIP")]
    assert findings([svc(clusterIP="10.96.0.10")], [svc(clusterIP="10.96.0.10", type="ExternalName")]) == [
        ("immutable", "Service/s", "spec.type")]


def test_job_template_immutable_but_hooks_are_recreated():
    def job(image, hook=False):
        meta = {"annotations": {"helm.sh/hook": "pre-upgrade"}} if hook else {}
        return res("Job", "migrate", {"template": {"spec": {"containers": [{"name": "m", "image": image}]}}},
                   meta=meta)
    assert findings([job("m:1")], [job("m:2")]) == [
        ("immutable", "Job/migrate", "spec.template.spec.containers[name=m].image")]
    assert findings([job("m:1", True)], [job("m:2", True)]) == []


def test_removed_resource_and_immutable_configmap():
    cm = res("ConfigMap", "conf", data={"a": "1"}, immutable=True)
    changed = res("ConfigMap", "conf", data={"a": "2"}, immutable=True)
    assert findings([cm, res("Service", "gone", {})], [changed]) == [
        ("immutable", "ConfigMap/conf", "data.a"), ("removed-resource", "Service/gone", "")]


def test_removed_value_keys(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for d in (old, new):
        d.mkdir()
    (old / "values.yaml").write_text("a: {b: 1, c: 2}\nlabels: {team: x}\ngone: {deep: {x: 1}}\n")
    (new / "values.yaml").write_text("a: {b: 1}\nlabels: {}\n")
    assert [f.path for f in removed_value_keys(old, new)] == ["a.c", "gone"]   # free-form maps are not keys
    schema = {"type": "object", "additionalProperties": False, "properties": {
        "a": {"type": "object", "properties": {"b": {}}},                     # open: a.c is still accepted
        "labels": {"type": "object"}}}
    import json
    (new / "values.schema.json").write_text(json.dumps(schema))
    assert [f.path for f in removed_value_keys(old, new)] == ["gone"]


# ---------------------------------------------------------------- a git repository with a chart

CHART_YAML = "apiVersion: v2\nname: tiny\nversion: {version}\nappVersion: '1.0'\n"
VALUES = "component: web\nport: 80\nstorage: {size: 1Gi}\n"
TEMPLATES = {
    "deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: tiny
      app.kubernetes.io/component: {{ .Values.component }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: tiny
        app.kubernetes.io/component: {{ .Values.component }}
    spec:
      containers:
        - name: web
          image: nginx:1
          ports: [{containerPort: {{ .Values.port }}}]
""",
    "sts.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  serviceName: {{ .Release.Name }}-db
  selector: {matchLabels: {app.kubernetes.io/name: tiny-db}}
  template:
    metadata: {labels: {app.kubernetes.io/name: tiny-db}}
    spec:
      containers: [{name: db, image: "db:1"}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: {{ .Values.storage.size }}}}
""",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with chart/ (version 1.0.0) committed on main, and a pyproject with chartest's ini."""
    return make_repo(tmp_path / "repo")


def make_repo(r: Path) -> Path:
    (r / "chart" / "templates").mkdir(parents=True)
    (r / "chart" / "Chart.yaml").write_text(CHART_YAML.format(version="1.0.0"))
    (r / "chart" / "values.yaml").write_text(VALUES)
    for name, text in TEMPLATES.items():
        (r / "chart" / "templates" / name).write_text(text)
    (r / "pyproject.toml").write_text('[tool.pytest.ini_options]\nchartest_chart = "chart"\n'
                                      'chartest_release = "rel"\n')
    git(r, "init", "-q", "-b", "main")
    git(r, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    commit(r, "chart 1.0.0")
    return r


def commit(r: Path, message: str) -> None:
    git(r, "add", "-A")
    git(r, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", message)


def edit(r: Path, path: str, old: str, new: str) -> None:
    p = r / path
    text = p.read_text()
    assert old in text, (path, old)
    p.write_text(text.replace(old, new))


@pytest.fixture(scope="session")
def tool_env() -> dict:
    """The environment of a user's shell with helm on PATH; no CI, so a missing base ref skips."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTEST_") and k != "CI"}
    env["PATH"] = f"{Path(find_tool('helm')).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def gate(r: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chartest", "gate", "--offline", *args], cwd=r, env=env,
                          capture_output=True, text=True, timeout=300)


def test_gate_passes_an_unchanged_chart_and_writes_the_report(repo, tool_env):
    edit(repo, "pyproject.toml", "", "")
    (repo / "README").write_text("outside the chart\n")
    commit(repo, "docs")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1", "--report-dir", "out")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (repo / "out" / "gate.md").read_text()
    assert summary.startswith("# Release gate: PASSED")
    assert "| `test_chart_version` | pass |" in summary and "| `test_helm_lint[defaults]` | pass |" in summary
    assert "| `test_chart_package` | pass |" in summary and "| `test_chart_push` | skip |" in summary
    assert 'tests="5"' in (repo / "out" / "gate.xml").read_text()
    assert (repo / ".chartest" / "artifacts" / "gate" / "package" / "tiny-1.0.0.tgz").is_file()


def test_selector_change_fails_naming_resource_and_field(repo, tool_env):
    edit(repo, "chart/templates/deploy.yaml", "      app.kubernetes.io/component: {{ .Values.component }}\n  template",
         "      app.kubernetes.io/component: {{ .Values.component }}\n      tier: front\n  template")
    commit(repo, "selector")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1")
    out = done.stdout
    assert done.returncode == 1, out
    assert "immutable: Deployment/rel-web spec.selector.matchLabels.tier: (absent) -> front" in out
    assert "chart/templates/deploy.yaml) but version 1.0.0" in out and "is not greater than 1.0.0" in out
    summary = (repo / ".chartest" / "artifacts" / "gate" / "gate.md").read_text()
    assert "# Release gate: FAILED" in summary and "| `test_upgrade_safety[defaults]` | **FAIL** |" in summary


def test_template_change_needs_a_version_bump_and_a_minor_one_is_enough(repo, tool_env):
    edit(repo, "chart/templates/deploy.yaml", "image: nginx:1", "image: nginx:2")
    commit(repo, "image")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1")
    assert done.returncode == 1 and "not greater than 1.0.0: bump it" in done.stdout
    edit(repo, "chart/Chart.yaml", "version: 1.0.0", "version: 1.1.0")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1")   # the uncommitted bump counts too
    assert done.returncode == 0, done.stdout


def test_breaking_change_needs_a_major_bump(repo, tool_env, tmp_path):
    edit(repo, "chart/values.yaml", "storage: {size: 1Gi}\n", "")
    edit(repo, "chart/templates/sts.yaml", "{{ .Values.storage.size }}", "2Gi")
    edit(repo, "chart/Chart.yaml", "version: 1.0.0", "version: 1.1.0")
    commit(repo, "drop storage.size")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1")
    assert done.returncode == 1
    assert "need a major version bump (1.0.0 -> 2.0.0), " in done.stdout
    assert "removed-value: values.yaml storage: in the base chart's values.yaml, gone" in done.stdout
    assert ("immutable: StatefulSet/rel-db spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage: "
            "1Gi -> 2Gi") in done.stdout
    edit(repo, "chart/Chart.yaml", "version: 1.1.0", "version: 2.0.0")
    done = gate(repo, tool_env, "--base-ref", "HEAD~1")
    assert done.returncode == 0, done.stdout   # announced by the major bump


def test_lint_failure_names_file_and_line_per_values_file(repo, tool_env):
    bad = repo / "bad-values.yaml"
    bad.write_text("port: {nested: map}\n")
    edit(repo, "chart/templates/deploy.yaml", "image: nginx:1", "image: nginx:1\n          {{ .Values.oops.x }}")
    done = gate(repo, tool_env, "--base-ref", "HEAD", "-f", str(bad))
    assert done.returncode == 1
    assert "/chart/templates/deploy.yaml:19: [ERROR] template: tiny/templates/deploy.yaml:19:20:" in done.stdout
    assert f"helm lint --strict {repo / 'chart'} with {bad}: 1 problem(s)" in done.stdout
    assert "the chart does not render (test_helm_lint says where)" in done.stdout


def test_default_base_ref_is_the_merge_base_or_the_parent_on_main(repo):
    assert default_base_ref(repo / "chart") is None   # one commit on main: nothing before it
    (repo / "x").write_text("x")
    commit(repo, "second")
    assert default_base_ref(repo / "chart") == "HEAD~1"
    fork = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "y").write_text("y")
    commit(repo, "on the branch")
    assert default_base_ref(repo) == fork


def test_release_gate_fixture_in_a_users_suite(pytester, tool_env, monkeypatch):
    """The fixture as a chart's own tests use it (an inner pytest session): the base ref from the ini,
    findings as data, one readable failure."""
    r = make_repo(pytester.path)
    for k, v in tool_env.items():
        monkeypatch.setenv(k, v)
    for k in [k for k in os.environ if k.startswith("CHARTEST_") or k == "CI"]:
        monkeypatch.delenv(k)
    edit(r, "pyproject.toml", 'chartest_release = "rel"\n', 'chartest_release = "rel"\nchartest_base_ref = "HEAD"\n')
    (r / "test_mine.py").write_text(textwrap.dedent("""\
        def test_base_ref_from_ini(release_gate):
            assert release_gate.base_ref == "HEAD" and release_gate.release == "rel"

        def test_upgrade_safe(release_gate):
            release_gate.assert_upgrade_safe()

        def test_findings_are_data(release_gate):
            [f] = [f for f in release_gate.upgrade_findings() if f.check == "orphan"]
            assert f.ref == "StatefulSet/rel-db"
        """))
    edit(r, "chart/templates/sts.yaml", "name: {{ .Release.Name }}-db\n", "name: {{ .Release.Name }}-database\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_mine.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*orphan: StatefulSet/rel-db: renamed to rel-database? gone from the current chart*"])
