"""The render-tier framework itself: path access, cache, schema check, PSS check, snapshots."""

import copy
import threading

import pytest

from chartest import podsecurity, render as render_mod, schemas
from chartest.render_fixtures import Snapshot, mask_manifests
from chartest.resources import PathError


def test_path_access(default):
    d = default.get("Deployment", "api")
    assert d.path("spec.template.spec.containers[0].image") == d.container("api")["image"]
    assert d.path("spec.template.spec.containers[name=api].ports[0].containerPort") == 5000
    assert d.path('metadata.labels["app.kubernetes.io/component"]') == "api"
    assert d.path("spec.nothing", None) is None
    with pytest.raises(PathError, match="Deployment/api"):
        d.path("spec.template.spec.containers[3]")


def test_find_and_get(default):
    assert default.find(component="mongo", kind="StatefulSet").refs() == ["StatefulSet/mongo"]
    assert {r.kind for r in default.find({"app.kubernetes.io/component": "api"})} == {
        "Deployment", "Service", "ServiceAccount"}
    with pytest.raises(KeyError, match="Deployments"):
        default.get("Deployment", "nope")


def test_render_cache_avoids_helm(render, monkeypatch):
    values = {"domain": "cache-test.example"}
    first = render(values)
    real_helm, this_thread = render_mod._run_helm, threading.current_thread()

    def guarded(*args, **kw):  # background prefetch threads may still call helm for other keys
        if threading.current_thread() is this_thread:
            pytest.fail("helm ran again for a render that is cached")
        return real_helm(*args, **kw)

    monkeypatch.setattr(render_mod, "_run_helm", guarded)
    assert render(values).refs() == first.refs()


def test_render_cache_key_changes_with_values(render):
    a = render({"domain": "a1.example"}).get("IngressRoute", "webhook")
    b = render({"domain": "b1.example"}).get("IngressRoute", "webhook")
    assert a["spec"]["routes"][2]["match"] != b["spec"]["routes"][2]["match"]


def test_render_returns_fresh_objects(render):
    m1 = render()
    m1.get("Deployment", "api")["spec"]["replicas"] = 99
    assert render().get("Deployment", "api")["spec"]["replicas"] == 1


def test_render_error_carries_helm_stderr(render_fails):
    err = render_fails({"api": {"replicas": "x"}})
    assert err.stderr.startswith("Error:") and "/api/replicas" in str(err)


def test_schema_check_catches_unknown_field_and_type(default):
    d = copy.deepcopy(dict(default.get("Deployment", "api")))
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    found = {(v.path, v.message.split(" ")[0]) for v in schemas.validate(d)}
    assert any("containers[0]" in p and "imagePullPolicyy" in str(schemas.validate(d)) for p, _ in found)
    assert any(p.endswith("containerPort") for p, _ in found)


def test_schema_check_catches_traefik_mistakes(default):
    r = copy.deepcopy(dict(default.get("IngressRoute", "webhook")))
    r["spec"]["routes"][0]["kind"] = "Route"
    del r["spec"]["routes"][1]["match"]
    messages = " | ".join(map(str, schemas.validate(r)))
    assert "'Route' is not one of ['Rule']" in messages
    assert "'match' is a required property" in messages


def test_schema_check_unknown_kind_and_bad_name():
    problems = schemas.validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Bad_Name"},
                                 "spec": {"ports": [{"port": 80}]}})
    assert any("DNS-1035" in p.message for p in problems)
    problems = schemas.validate({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}})
    assert any("no schema" in p.message for p in problems)


RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "c", "image": "i", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
}


@pytest.mark.parametrize("mutate,rule", [
    (lambda s: s.update(hostNetwork=True), "hostNamespaces"),
    (lambda s: s.update(hostPID=True), "hostNamespaces"),
    (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]), "capabilities.baseline"),
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
    (lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation"),
    (lambda s: s["securityContext"].pop("runAsNonRoot"), "runAsNonRoot"),
    (lambda s: s["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser"),
    (lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True}), "hostProcess"),
    (lambda s: s.update(initContainers=[{"name": "init", "image": "i"}]), "allowPrivilegeEscalation"),
])
def test_pss_restricted_rules(mutate, rule):
    assert podsecurity.check_restricted(RESTRICTED_OK) == []
    spec = copy.deepcopy(RESTRICTED_OK)
    mutate(spec)
    assert rule in {v.rule for v in podsecurity.check_restricted(spec)}


def test_snapshot_strict_ci_mode(tmp_path, default):
    strict = Snapshot(tmp_path, update=False, strict=True)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        strict.assert_match(default, "x")
    Snapshot(tmp_path, update=False, strict=False).assert_match(default, "x")  # written locally
    strict.assert_match(default, "x")
    changed = copy.deepcopy(list(default))
    changed[0]["metadata"]["name"] = "renamed"
    with pytest.raises(pytest.fail.Exception, match="differs"):
        strict.assert_match(changed, "x")


def test_snapshot_masks_generated_fields(default):
    masked = mask_manifests(default)
    secret = next(r for r in masked if r["kind"] == "Secret")
    assert secret["data"] == {"mongodb_url": "<masked>"}
    api = next(r for r in masked if r["kind"] == "Deployment" and r["metadata"]["name"] == "api")
    assert api["spec"]["template"]["metadata"]["annotations"]["checksum/mongodb-url"] == "<masked>"

