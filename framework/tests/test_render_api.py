"""The render tier's public API on the framework's own small charts (ported from the tests that
used to run on the webhooks chart): render cache, fresh objects, lookups, Pod Security rules,
snapshots and masks."""

from __future__ import annotations

import copy
import threading

import pytest

from chartest import PathError, Snapshot, check_restricted, mask_manifests, render_chart
from chartest.render import helm as render_mod
from selftest_support import TESTDATA

MINIMAL = TESTDATA / "minimal"


@pytest.fixture(scope="module")
def default(tool_dirs):
    return render_chart(MINIMAL, release="demo")


def test_path_access(default):
    d = default.get("Deployment", "demo-web")
    assert d.path("spec.template.spec.containers[0].image") == d.container("web")["image"]
    assert d.path("spec.template.spec.containers[name=web].ports[0].containerPort") == 8080
    assert d.path('metadata.labels["app.kubernetes.io/instance"]') == "demo"
    assert d.path("spec.nothing", None) is None
    with pytest.raises(PathError, match=r"Deployment/demo-web.*there is a list of 1 item, named \['web'\]"):
        d.path("spec.template.spec.containers[3]")


def test_find_and_get(default):
    assert default.find(instance="demo", kind="Deployment").refs() == ["Deployment/demo-web"]
    assert {r.kind for r in default.find({"app.kubernetes.io/name": "minimal"})} == {"Deployment"}
    with pytest.raises(KeyError, match=r"no Deployment/nope in the render; Deployments: \['demo-web'\]"):
        default.get("Deployment", "nope")


def test_render_cache_avoids_helm(tool_dirs, monkeypatch):
    values = {"replicas": 4}
    first = render_chart(MINIMAL, values)
    real_submit, this_thread = render_mod._submit, threading.current_thread()

    def guarded(job):  # background prefetch threads may still render other keys
        if threading.current_thread() is this_thread:
            pytest.fail("rendered again although the render is cached")
        return real_submit(job)

    monkeypatch.setattr(render_mod, "_submit", guarded)
    assert render_chart(MINIMAL, values).refs() == first.refs()


def test_render_cache_key_changes_with_values(tool_dirs):
    a = render_chart(MINIMAL, {"image": "a.test/x:1"}).get("Deployment", "release-web")
    b = render_chart(MINIMAL, {"image": "b.test/x:1"}).get("Deployment", "release-web")
    assert a.container("web")["image"] != b.container("web")["image"]


def test_render_returns_fresh_objects(tool_dirs):
    render_chart(MINIMAL).get("Deployment", "release-web")["spec"]["replicas"] = 99
    assert render_chart(MINIMAL).get("Deployment", "release-web")["spec"]["replicas"] == 1


RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "c", "image": "i", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
}


@pytest.mark.parametrize("mutate,rule", [
    (lambda s: s.update(hostNetwork=True), "hostNamespaces"),
    (lambda s: s.update(hostPID=True), "hostNamespaces"),
    (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
     "capabilities.baseline"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["CHOWN"]), "capabilities"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=[]), "capabilities"),
    (lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "hostPathVolumes"),
    (lambda s: s.update(volumes=[{"name": "n", "nfs": {"server": "x", "path": "/"}}]), "volumeTypes"),
    (lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]), "hostPorts"),
    (lambda s: s["containers"][0]["securityContext"].update(appArmorProfile={"type": "Unconfined"}), "appArmor"),
    (lambda s: s["securityContext"].update(seLinuxOptions={"type": "spc_t"}), "seLinux"),
    (lambda s: s["containers"][0]["securityContext"].update(procMount="Unmasked"), "procMount"),
    (lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}), "seccomp.baseline"),
    (lambda s: s["securityContext"].pop("seccompProfile"), "seccomp"),
    (lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "sysctls"),
    (lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
     "allowPrivilegeEscalation"),
    (lambda s: s["securityContext"].pop("runAsNonRoot"), "runAsNonRoot"),
    (lambda s: s["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser"),
    (lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True}), "hostProcess"),
    (lambda s: s.update(initContainers=[{"name": "init", "image": "i"}]), "allowPrivilegeEscalation"),
])
def test_pss_restricted_rules(mutate, rule):
    assert check_restricted(RESTRICTED_OK) == []
    spec = copy.deepcopy(RESTRICTED_OK)
    mutate(spec)
    assert rule in {v.rule for v in check_restricted(spec)}


def test_snapshot_strict_ci_mode(tmp_path, default):
    strict = Snapshot(tmp_path, update=False, strict=True)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        strict.assert_match(default, "x")
    Snapshot(tmp_path, update=False, strict=False).assert_match(default, "x")  # written locally
    strict.assert_match(default, "x")
    changed = copy.deepcopy(list(default))
    changed[0]["metadata"]["name"] = "renamed"
    with pytest.raises(pytest.fail.Exception, match=r"differs(.|\n)*\+  name: renamed"):  # the diff shows it
        strict.assert_match(changed, "x")
    retyped = copy.deepcopy(list(default))
    retyped[0]["metadata"]["labels"] = {"n": "1"}
    Snapshot(tmp_path, update=True, strict=True).assert_match(retyped, "y")
    retyped[0]["metadata"]["labels"] = {"n": 1}  # the same YAML text but for its quotes
    with pytest.raises(pytest.fail.Exception, match="differs"):
        strict.assert_match(retyped, "y")
    for was, now in ((1, True), (0, False), (1, 1.0)):  # equal in Python, not in the manifest
        retyped[0]["metadata"]["annotations"] = {"n": was}
        Snapshot(tmp_path, update=True, strict=True).assert_match(retyped, "z")
        retyped[0]["metadata"]["annotations"] = {"n": now}
        with pytest.raises(pytest.fail.Exception, match="differs"):
            strict.assert_match(retyped, "z")


def test_snapshot_masks_generated_fields():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c2VjcmV0"}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {"metadata": {"annotations": {"checksum/config": "abc", "keep": "x"}}}}}
    masked_secret, masked_deployment = mask_manifests([secret, deployment])
    assert masked_secret["data"] == {"password": "<masked>"}
    assert masked_deployment["spec"]["template"]["metadata"]["annotations"] == {
        "checksum/config": "<masked>", "keep": "x"}
    assert secret["data"] == {"password": "c2VjcmV0"}  # the originals are untouched


def test_render_cache_key_ignores_the_state_dir_inside_the_chart(tmp_path, monkeypatch):
    """A project whose chart is its rootdir keeps .chartest inside the chart: the render cache
    written there must not change the chart's digest (every render would miss the cache)."""
    import shutil

    from chartest import state

    chart = tmp_path / "chart"
    shutil.copytree(MINIMAL, chart)
    monkeypatch.setattr(state, "_state_dir", chart / ".chartest")
    before = render_mod.chart_digest(chart)
    for cached in (chart / ".chartest" / "cache" / "render" / "ab.json", chart / "tests" / "__pycache__" / "x.pyc"):
        cached.parent.mkdir(parents=True)
        cached.write_text("{}")
    assert render_mod.chart_digest(chart) == before
    (chart / "templates" / "extra.yaml").write_text("# part of the chart\n")
    assert render_mod.chart_digest(chart) != before
