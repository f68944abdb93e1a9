"""A stand-in for a user's own cluster, and proof that a test session leaves it as it found it.

A real user's cluster is made by its admin, not by the test session: here a
second kind cluster plays it. :func:`prepare` does the admin's part (create the
cluster from the node image with containerd's registry ``config_path``, install
Traefik, connect the registry); the session is then handed only a kubeconfig
file, the ingress URL and the registry. :func:`snapshot` records what the
session must not change (namespaces, helm releases, CRDs, cluster-wide RBAC,
the node containers themselves) and which images the nodes hold, so a comparison afterwards shows anything left behind,
removed, recreated or ``kind load``ed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from bootstrap import nodeimage
from chartest import Cluster
from chartest.cluster import kind, registry as registry_mod, traefik
from chartest.cluster.registry import Registry
from chartest.progress import step
from chartest.shell import run

from .deploy import traefik_image


def prepare(name: str, http_port: int, registry: Registry, kubeconfig: Path) -> Cluster:
    """The admin's part: the cluster (created unless it runs), Traefik, the registry connected.
    Writes the kubeconfig the session gets to ``kubeconfig``; returns the cluster as the
    session sees it (not kind: a kubeconfig and an ingress URL)."""
    image = nodeimage.ensure()
    patch = registry_mod.with_config_path(nodeimage.kind_config_patch(image))
    # two workers, so the e2e tier's multi-node tests (spread, drain) run on it too
    cluster = kind.ensure(name, image=image, http_port=http_port, config_patch=patch, nodes=3)
    traefik.ensure(cluster, traefik_image())
    registry_mod.connect(registry, cluster)
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cluster.kubeconfig, kubeconfig)
    return Cluster(name, kubeconfig, cluster.ingress_url, kind=False)


def kind_clusters() -> list[str]:
    return kind.existing_clusters()


def delete(name: str) -> None:
    kind.delete(name)


@dataclass
class State:
    """What a test session must leave as it found it, and the images the nodes hold."""

    namespaces: set[str]
    releases: set[tuple[str, str, str, str]]    # namespace, name, chart, revision
    crds: set[str]
    cluster_rbac: set[str]                      # ClusterRoles and ClusterRoleBindings
    node_containers: dict[str, str]             # kind node -> Docker container ID
    node_images: dict[str, set[str]] = field(default_factory=dict)

    def kept(self) -> dict:
        """Everything but the node images (pulls from the registry are the point of the run)."""
        return {k: v for k, v in vars(self).items() if k != "node_images"}


def _names(cluster: Cluster, kind_name: str) -> set[str]:
    out = cluster.kubectl("get", kind_name, "-o", "name")
    return {line.strip() for line in out.splitlines() if line.strip()}


def _releases(cluster: Cluster) -> set[tuple[str, str, str, str]]:
    from chartest import find_tool

    out = run([find_tool("helm"), "list", "--all-namespaces", "--all", "-o", "json",
               "--kubeconfig", cluster.kubeconfig], stdout_only=True)
    return {(r["namespace"], r["name"], r["chart"], str(r["revision"])) for r in json.loads(out or "[]")}


def _node_images(node: str) -> set[str]:
    out = run(["docker", "exec", node, "crictl", "images", "-o", "json"], stdout_only=True)
    return {tag for image in json.loads(out).get("images", []) for tag in image.get("repoTags") or []}


def snapshot(cluster: Cluster, kind_name: str) -> State:
    nodes = kind.node_containers(kind_name)
    containers = {n: run(["docker", "inspect", "--format", "{{.Id}}", n]).strip() for n in nodes}
    return State(
        namespaces=_names(cluster, "namespaces"),
        releases=_releases(cluster),
        crds=_names(cluster, "customresourcedefinitions"),
        cluster_rbac=_names(cluster, "clusterroles") | _names(cluster, "clusterrolebindings"),
        node_containers=containers,
        node_images={n: _node_images(n) for n in nodes},
    )


def differences(before: State, after: State) -> list[str]:
    """What changed, one line per difference (empty: left as found)."""
    lines = []
    for key, old in before.kept().items():
        new = getattr(after, key)
        if old == new:
            continue
        if isinstance(old, set):
            lines += [f"{key}: added {sorted(new - old)}" if new - old else "",
                      f"{key}: removed {sorted(old - new)}" if old - new else ""]
        else:
            lines.append(f"{key}: {old} -> {new}")
    return [line for line in lines if line]


def loaded_not_pulled(before: State, after: State, registry: Registry) -> list[str]:
    """Images that appeared on a node under a name not from ``registry`` (a `kind load`)."""
    found = []
    for node, images in after.node_images.items():
        for image in sorted(images - before.node_images.get(node, set())):
            if not image.startswith(registry.host + "/"):
                found.append(f"{node}: {image}")
    return found


def wait_left_as_found(cluster: Cluster, kind_name: str, before: State, timeout: float = 180) -> State:
    """The state after the session, once namespaces being deleted are gone (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    with step("wait until the session's namespaces are gone, then compare with before"):
        while True:
            after = snapshot(cluster, kind_name)
            if not differences(before, after) or time.monotonic() > deadline:
                return after
            time.sleep(3)
