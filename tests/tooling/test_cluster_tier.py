"""The cluster tier's pure parts: what a failure dump gets, and how a chart argument is resolved."""

from pathlib import Path

from chartest.cluster import dumps, release

API_RESOURCES = """\
configmaps                          cm         v1                                true    ConfigMap
namespaces                          ns         v1                                false   Namespace
deployments                         deploy     apps/v1                           true    Deployment
horizontalpodautoscalers            hpa        autoscaling/v2                    true    HorizontalPodAutoscaler
clusterroles                                   rbac.authorization.k8s.io/v1      false   ClusterRole
ingressroutes                                  traefik.io/v1alpha1               true    IngressRoute
error: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable
"""

MANIFEST = """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: api}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: webhooks-reader}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: webhooks}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: api}
---
apiVersion: v1
kind: ConfigMapList
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
"""


def test_api_resources_are_read_from_the_right_and_error_lines_ignored():
    served = dumps.parse_api_resources(API_RESOURCES)
    assert served[("Deployment", "apps")] == dumps.ServedKind("deployments.apps", True)
    assert served[("ConfigMap", "")] == dumps.ServedKind("configmaps", True)          # core group: no suffix
    assert served[("IngressRoute", "traefik.io")].resource == "ingressroutes.traefik.io"  # no short name
    assert served[("ClusterRole", "rbac.authorization.k8s.io")].namespaced is False
    assert len(served) == 6


def test_dump_gets_every_served_kind_of_the_manifest_and_cluster_objects_by_name():
    objects = dumps.manifest_objects(MANIFEST)
    namespaced, cluster_scoped = dumps.plan(objects, dumps.parse_api_resources(API_RESOURCES), "ns1")
    assert namespaced == ["pods", "services", "endpointslices", "deployments.apps",
                          "horizontalpodautoscalers.autoscaling",   # autoscaling/v1 in the manifest, v2 served
                          "ingressroutes.traefik.io", "configmaps"]  # List items unrolled
    assert cluster_scoped == [("clusterroles.rbac.authorization.k8s.io", "webhooks-reader")]
    # the ServiceMonitor's CRD is not installed: left out rather than failing the dump
    assert not any("servicemonitor" in r for r in namespaced)


def test_chart_argument_is_a_resolved_path_when_it_exists_else_a_reference(tmp_path, monkeypatch):
    (tmp_path / "mychart").mkdir()
    monkeypatch.chdir(tmp_path)
    assert release.chart_ref("mychart") == tmp_path / "mychart"
    assert isinstance(release.chart_ref("mychart"), Path) and release.chart_ref("mychart").is_absolute()
    assert release.chart_ref("traefik/traefik") == "traefik/traefik"
    assert release.chart_ref("oci://registry.example/charts/x") == "oci://registry.example/charts/x"


def test_dumped_manifests_keep_secret_keys_but_not_their_values():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"mongodb_url": "bW9uZ29kYjovL3VzZXI6cGFzc0BtOjI3MDE3"}, "stringData": {"token": "t0p"}}
    shown = dumps.redacted(secret)
    assert shown["data"] == {"mongodb_url": "<redacted>"} and shown["stringData"] == {"token": "<redacted>"}
    assert secret["data"]["mongodb_url"].startswith("bW9u")          # the original is left alone
    assert dumps.redacted({"kind": "ConfigMap", "data": {"a": "b"}}) == {"kind": "ConfigMap", "data": {"a": "b"}}


def test_values_files_lie_under_the_release_values(monkeypatch, tmp_path):
    """The ``values`` setting reaches releases too: its files come first, the release's own values last."""
    import chartest.cluster.release as release_mod
    from chartest import Cluster, Release

    seen = {}

    def fake_run(argv, **kw):
        seen["argv"], seen["input"] = [str(a) for a in argv], kw.get("input")
        return ""

    monkeypatch.setattr(release_mod, "run", fake_run)
    monkeypatch.setattr(release_mod.tools, "find", lambda tool: tool)
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    release = Release(Cluster("c", tmp_path / "kubeconfig", None), tmp_path, "rel", "ns", {"x": 1},
                      [first, second])
    release.upgrade(wait=False)
    argv = seen["argv"]
    files = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-f"]
    assert files == [str(first), str(second), "-"]
    assert seen["input"].strip() == "x: 1"


def test_cleanup_keeps_only_the_namespaces_asked_for(monkeypatch, tmp_path):
    """A kept cluster keeps the failed tests' releases; every other release and namespace goes."""
    import chartest.cluster.release as release_mod
    from chartest import Cluster, Release

    import chartest.cluster.kind as kind_mod

    calls = []
    for module in (release_mod, kind_mod):
        monkeypatch.setattr(module, "run", lambda argv, **kw: calls.append([str(a) for a in argv]) or "")
    monkeypatch.setattr(release_mod.tools, "find", lambda tool: tool)
    cluster = Cluster("c", tmp_path / "kubeconfig", None)
    releases = release_mod.Releases(cluster, tmp_path, "rel")
    for namespace in ("ns-passed", "ns-failed"):
        releases.created.append(Release(cluster, tmp_path, "rel", namespace))
        releases.owned_namespaces.append(namespace)
    releases.cleanup(keep_namespaces={"ns-failed"})
    touched = [argv for argv in calls if "ns-failed" in argv]
    assert touched == []
    assert any("uninstall" in argv and "ns-passed" in argv for argv in calls)
    assert any(argv[0] == "kubectl" and "delete" in argv and "ns-passed" in argv for argv in calls)
