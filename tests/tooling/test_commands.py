"""Command and config construction: what the bootstrap and the app support ask go, kind and helm to do."""

import pytest
import yaml

from bootstrap import gobuild, nodeimage, toolchain
from chartest import deep_merge, pins
from chartest.cluster import kind
from webhooks_testing import deploy


def test_kube_ldflags_stamp_both_version_packages():
    flags = gobuild.kube_ldflags("v1.34.4")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.34.4" in flags
        assert f"-X {pkg}.gitMajor=1" in flags
        assert f"-X {pkg}.gitMinor=34" in flags
        assert f"-X {pkg}.gitTreeState=clean" in flags


def test_local_replaces_are_found_and_guard_rails_skipped(tmp_path):
    gomod = tmp_path / "go.mod"
    gomod.write_text(
        "module k8s.io/kubernetes\n\nreplace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
        "\tgithub.com/x/y => github.com/x/y v1.2.3\n"
        ")\n\nreplace go.etcd.io/etcd/api/v3 => ../api\n"
        "replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY\n"
    )
    assert gobuild.local_replaces(gomod) == ["k8s.io/api", "k8s.io/client-go", "go.etcd.io/etcd/api/v3"]


def test_kind_config_for_the_local_node_image():
    image = "chartest/node:v1.34.4-0123456789"
    config = kind.kind_config(18080, image, nodeimage.kind_config_patch(image))
    node = config["nodes"][0]
    assert node["image"] == image
    assert node["extraPortMappings"] == [{"containerPort": 30080, "hostPort": 18080,
                                          "listenAddress": "127.0.0.1", "protocol": "TCP"}]
    assert "networking" not in config, "the local image brings kind's default CNI, as kindest/node does"


def test_kind_config_with_workers_runs_every_node_from_the_image():
    image = "chartest/node:v1.34.4-0123456789"
    config = kind.kind_config(18081, image, {}, nodes=3)
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in config["nodes"]} == {image}
    assert [bool(n.get("extraPortMappings")) for n in config["nodes"]] == [True, False, False]
    with pytest.raises(ValueError):
        kind.kind_config(18081, image, {}, nodes=0)


def test_local_node_image_tag_carries_the_fingerprint():
    fp = nodeimage.fingerprint()
    assert nodeimage.local_tag(fp) == f"chartest/node:{pins.get('kubernetes.version')}-{fp[:10]}"


def test_node_image_manifests_name_the_preloaded_addon_images():
    from bootstrap import nodeaddons

    manifests = nodeaddons.manifests()
    assert set(manifests) == {"default-cni.yaml", "default-storage.yaml"}
    text = "".join(manifests.values())
    for spec in nodeaddons.SPECS:
        assert f"image: {spec.tag()}" in text
    assert "_IMAGE@" not in text
    assert "would you kindly template this file" in manifests["default-cni.yaml"]  # kind fills in the pod subnet
    storage = [d for d in yaml.safe_load_all(manifests["default-storage.yaml"]) if d]
    [klass] = [d for d in storage if d["kind"] == "StorageClass"]
    assert klass["metadata"]["name"] == "standard"
    assert klass["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_kind_config_patches_containerd_on_hosts_without_sys_resource(monkeypatch):
    from bootstrap import engine

    kindest = pins.get("node.kindest_node")
    monkeypatch.setattr(engine, "bounding_set_lacks_sys_resource", lambda: False)
    assert nodeimage.kind_config_patch(kindest) == {}
    monkeypatch.setattr(engine, "bounding_set_lacks_sys_resource", lambda: True)
    patched = kind.kind_config(18080, kindest, nodeimage.kind_config_patch(kindest))
    assert "restrict_oom_score_adj = true" in patched["containerdConfigPatches"][0]
    local = nodeimage.kind_config_patch("chartest/node:v1.34.4-0123456789")
    assert "containerdConfigPatches" not in local, "the local image bakes the setting in"


def test_kind_config_for_kindest_node_keeps_its_cni():
    config = kind.kind_config(18081, pins.get("node.kindest_node"))
    assert "networking" not in config
    assert config["nodes"][0]["extraPortMappings"][0]["hostPort"] == 18081


def test_helm_is_stamped_with_the_pinned_kubernetes_as_its_default():
    flags = toolchain.ldflags("helm")
    major, minor = pins.kube_minor(pins.get("kubernetes.version")).split(".")
    assert f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor={major}" in flags
    assert f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={minor}" in flags
    assert f"-X helm.sh/helm/v3/internal/version.version={pins.get('tools.helm')}" in flags


def test_sandbox_image_is_read_from_kinds_containerd_config(tmp_path):
    (tmp_path / "etc/containerd").mkdir(parents=True)
    (tmp_path / "etc/containerd/config.toml").write_text(
        'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n')
    assert nodeimage.sandbox_image(tmp_path) == "registry.k8s.io/pause:3.10"


@pytest.mark.parametrize(("name", "base", "entrypoint"), [
    ("kube-apiserver", "scratch", '"/usr/local/bin/kube-apiserver"'),
    ("kube-proxy", "chartest/netfilter:bookworm", None),
    ("coredns", "scratch", '"/coredns"'),
    ("pause", "scratch", '"/pause"'),
])
def test_component_images(name, base, entrypoint):
    got_base, body = nodeimage._component_dockerfile(name)
    assert got_base == base
    assert f"COPY {name} " in body
    if entrypoint:
        assert f"ENTRYPOINT [{entrypoint}]" in body


def test_local_image_values_point_the_chart_at_loaded_images():
    values = deploy.local_image_values({"api": "webhooks/api:0.1.0-abc", "nats": "chartest/nats:2.11.9-x"})
    assert values["api"] == {"tag": "0.1.0-abc",
                             "image": {"registry": "", "repository": "webhooks/api", "pullPolicy": "Never"}}
    assert values["nats"]["image"]["repository"] == "chartest/nats"


def test_deep_merge_overrides_leaves_and_keeps_siblings():
    base = {"api": {"tag": "a", "image": {"registry": "r", "repository": "x"}}, "domain": "d"}
    merged = deep_merge(base, {"api": {"image": {"registry": ""}}, "www": {"replicas": 2}})
    assert merged == {"api": {"tag": "a", "image": {"registry": "", "repository": "x"}},
                      "domain": "d", "www": {"replicas": 2}}
    assert base["api"]["image"]["registry"] == "r"


def test_split_tag_keeps_registry_ports():
    assert deploy.split_tag("localhost:5000/webhooks/api:1.2") == ("localhost:5000/webhooks/api", "1.2")


def test_inotify_limits_are_raised_only_where_lower(tmp_path, monkeypatch):
    """kind nodes need kind's recommended inotify limits; a higher limit is never lowered."""
    from bootstrap import engine

    inotify = tmp_path / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_instances").write_text("128\n")
    (inotify / "max_user_watches").write_text("1048576\n")
    monkeypatch.setattr(engine.os, "geteuid", lambda: 0)
    engine.ensure_inotify_limits(tmp_path)
    assert (inotify / "max_user_instances").read_text() == "512"
    assert (inotify / "max_user_watches").read_text() == "1048576\n"
