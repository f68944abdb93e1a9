"""The registry plumbing that needs no Docker: kind config patches, containerd hosts, image values."""

from __future__ import annotations

import tomllib

import yaml

from chartest import Registry
from chartest.cluster import kind
from chartest.cluster import registry as registry_mod
from webhooks_testing.deploy import from_registry, local_image_values


def test_config_path_patch_composes_with_other_containerd_patches():
    oom = '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
    patch = registry_mod.with_config_path({"containerdConfigPatches": [oom], "networking": {"x": 1}})
    assert patch["containerdConfigPatches"] == [oom, registry_mod.CONFIG_PATH_PATCH]
    assert registry_mod.with_config_path(patch) == patch                      # idempotent
    config = kind.kind_config(18080, "node:1", patch)
    assert config["networking"] == {"x": 1}
    merged = tomllib.loads("\n".join(config["containerdConfigPatches"]))
    cri = merged["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d" and cri["restrict_oom_score_adj"]


def test_hosts_toml_sends_the_loopback_name_to_the_container_in_kinds_network():
    reg = Registry("localhost:5001", "chartest-registry-5001")
    hosts = tomllib.loads(registry_mod.hosts_toml(reg))
    assert hosts["host"]["http://chartest-registry-5001:5000"]["capabilities"] == ["pull", "resolve"]
    hosting = yaml.safe_load(registry_mod.hosting_configmap(reg)["data"]["localRegistryHosting.v1"])
    assert hosting["host"] == "localhost:5001"


def test_loopback_registries_are_plain_http_others_tls():
    assert Registry("localhost:5001").plain_http and Registry("127.0.0.1:5000/x").plain_http
    assert Registry("localhost:5001").helm_flags() == ["--plain-http"]
    assert not Registry("registry.example:5000").plain_http
    assert Registry("registry.example:5000").url == "https://registry.example:5000"
    assert Registry("localhost:5001").oci() == "oci://localhost:5001/charts"


def test_registry_refs_are_pulled_local_refs_never():
    assert from_registry("localhost:5001/webhooks/api") and from_registry("registry.example/webhooks/api")
    assert not from_registry("webhooks/api") and not from_registry("chartest/nats")
    values = local_image_values({"api": "localhost:5001/webhooks/api:0.1.0-abc", "nats": "chartest/nats:2.11.9-x"})
    assert values["api"]["image"] == {"registry": "", "repository": "localhost:5001/webhooks/api",
                                      "pullPolicy": "IfNotPresent"}
    assert values["api"]["tag"] == "0.1.0-abc"
    assert values["nats"]["image"]["pullPolicy"] == "Never"


def test_the_left_as_found_check_sees_leftovers_removals_recreations_and_kind_loads():
    from webhooks_testing.existing_cluster import State, differences, loaded_not_pulled

    def state(**over) -> State:
        base = dict(namespaces={"namespace/default", "namespace/traefik"},
                    releases={("traefik", "traefik", "traefik-37.3.0", "1")}, crds={"crd/a"},
                    cluster_rbac={"clusterrole.rbac.authorization.k8s.io/x"}, node_containers={"n": "id1"},
                    node_images={"n": {"docker.io/chartest/traefik:1"}})
        return State(**{**base, **over})

    before = state()
    assert differences(before, state()) == []
    changed = differences(before, state(namespaces={"namespace/default", "namespace/left-behind"},
                                        crds=set(), node_containers={"n": "id2"}))
    assert "namespaces: added ['namespace/left-behind']" in changed
    assert "namespaces: removed ['namespace/traefik']" in changed
    assert "crds: removed ['crd/a']" in changed and "node_containers: {'n': 'id1'} -> {'n': 'id2'}" in changed
    reg = Registry("localhost:5001", "c")
    pulled = state(node_images={"n": {"docker.io/chartest/traefik:1", "localhost:5001/webhooks/api:1"}})
    assert differences(before, pulled) == [] and loaded_not_pulled(before, pulled, reg) == []
    loaded = state(node_images={"n": {"docker.io/chartest/traefik:1", "docker.io/webhooks/api:1"}})
    assert loaded_not_pulled(before, loaded, reg) == ["n: docker.io/webhooks/api:1"]
