"""Kubernetes clusters to test on: a kind cluster created or reused by name, or one given.

A kind cluster maps the ingress controller's NodePort (30080) to a loopback
port, so tests reach the app exactly as a user would: through the ingress.
The node image is whatever the ``node_image`` setting names (kind's default
when unset); a project that builds its own passes it in. A cluster has one
control plane and ``nodes - 1`` workers, all from that image; a cluster found
by name is reused only when it has that image and that many nodes.
"""

from __future__ import annotations

import copy
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import state, tools
from ..progress import info, skip, step
from ..shell import run

INGRESS_NODE_PORT = 30080


@dataclass(frozen=True)
class Cluster:
    """A running cluster and how to reach it."""

    name: str
    kubeconfig: Path
    ingress_url: str | None  # where the ingress controller's web entry point answers
    kind: bool = True        # False for an existing cluster handed over as a kubeconfig

    @property
    def node(self) -> str:
        return f"{self.name}-control-plane"

    def kubectl(self, *args: str, **kw) -> str:
        return run([tools.find("kubectl"), "--kubeconfig", self.kubeconfig, *args], **kw)

    def load_image(self, image: str) -> None:
        """``kind load docker-image``: make a local image available to the nodes."""
        if not self.kind:
            raise RuntimeError(f"cannot `kind load` {image} into {self.name}: it is not a kind cluster; "
                               "push the image to a registry it pulls from (image_registry setting)")
        run([tools.find("kind"), "load", "docker-image", "--name", self.name, image])


def loopback_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def kubeconfig_path(name: str) -> Path:
    return state.state_dir() / "kube" / f"{name}.yaml"


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` merged into a copy of ``base`` (dicts recursively, the rest replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def kind_config(http_port: int, image: str | None = None, patch: dict | None = None, nodes: int = 1) -> dict:
    """A control-plane node whose NodePort 30080 is the host's 127.0.0.1:``http_port``, and
    ``nodes - 1`` workers (the NodePort reaches pods on any node through kube-proxy)."""
    if nodes < 1:
        raise ValueError(f"a kind cluster needs at least one node (its control plane), not {nodes}")
    control_plane: dict = {
        "role": "control-plane",
        "extraPortMappings": [{"containerPort": INGRESS_NODE_PORT, "hostPort": http_port,
                               "listenAddress": "127.0.0.1", "protocol": "TCP"}],
    }
    members = [control_plane] + [{"role": "worker"} for _ in range(nodes - 1)]
    if image:
        for node in members:
            node["image"] = image
    config = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": members}
    return deep_merge(config, patch or {})


def existing_clusters() -> list[str]:
    out = run([tools.find("kind"), "get", "clusters"], check=False)
    return [line.strip() for line in out.splitlines() if line.strip() and "No kind clusters" not in line]


def _host_port_of(name: str) -> int | None:
    out = run(["docker", "port", f"{name}-control-plane", f"{INGRESS_NODE_PORT}/tcp"], check=False)
    for line in out.splitlines():
        if ":" in line:
            return int(line.rsplit(":", 1)[1])
    return None


def node_containers(name: str) -> list[str]:
    out = run([tools.find("kind"), "get", "nodes", "--name", name], check=False)
    return sorted(line.strip() for line in out.splitlines() if line.strip() and "No kind nodes" not in line)


def mismatch(name: str, image: str | None, nodes: int) -> str | None:
    """Why the existing cluster ``name`` is not the one asked for (None: it is)."""
    found = node_containers(name)
    if len(found) != nodes:
        return f"it has {len(found)} node(s), {nodes} asked for"
    if image:
        images = {run(["docker", "inspect", "--format", "{{.Config.Image}}", c], check=False).strip()
                  for c in found}
        if images != {image}:
            return f"its nodes run {', '.join(sorted(images))}, not {image}"
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def healthy(cluster: Cluster) -> bool:
    try:
        out = cluster.kubectl("get", "nodes", "--no-headers", timeout=30)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return " Ready " in f" {out} "


def wait_ready(cluster: Cluster, timeout: float = 300) -> None:
    """Wait until every node is Ready and CoreDNS runs."""
    deadline = time.monotonic() + timeout
    cluster.kubectl("wait", "--for=condition=Ready", "node", "--all", f"--timeout={int(timeout)}s")
    remaining = max(10, int(deadline - time.monotonic()))
    cluster.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={remaining}s")


def ensure(name: str, *, image: str | None = None, http_port: int = 18080,
           config_patch: dict | None = None, nodes: int = 1) -> Cluster:
    """Reuse the named kind cluster if it is healthy and as asked (image, nodes), else create it."""
    kubeconfig = kubeconfig_path(name)
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    if name in existing_clusters():
        run([tools.find("kind"), "export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig])
        port = _host_port_of(name) or http_port
        cluster = Cluster(name, kubeconfig, loopback_url(port))
        differs = mismatch(name, image, nodes)
        if differs is None and healthy(cluster):
            skip(f"kind cluster {name}", f"reused ({nodes} node(s), ingress port {port})")
            return cluster
        info(f"cluster {name} exists but {differs or 'does not answer'}: recreating it")
        delete(name)
    if not _port_free(http_port):
        raise RuntimeError(f"port {http_port} on 127.0.0.1 is taken; set --http-port / CHARTEST_HTTP_PORT "
                           "to a free one")
    config_file = state.state_dir() / f"kind-{name}.yaml"
    config_file.write_text(yaml.safe_dump(kind_config(http_port, image, config_patch, nodes), sort_keys=False))
    cluster = Cluster(name, kubeconfig, loopback_url(http_port))
    shape = f"1 control plane + {nodes - 1} worker(s)" if nodes > 1 else "1 node"
    with step(f"create kind cluster {name} ({shape})" + (f" from {image}" if image else ""),
              f"`kind export logs --name {name}` collects node logs; `kind delete cluster --name {name}` "
              "cleans up"):
        try:
            run([tools.find("kind"), "create", "cluster", "--name", name, "--config", config_file,
                 "--kubeconfig", kubeconfig, "--wait", "180s"], stream=True)
            with step("wait for the nodes and CoreDNS"):
                wait_ready(cluster)
        except BaseException:  # a half-made cluster (or Ctrl-C) must not be left behind
            run([tools.find("kind"), "delete", "cluster", "--name", name], check=False)
            raise
    return cluster


def delete(name: str) -> None:
    if name not in existing_clusters():
        skip(f"kind cluster {name}", "not there")
        return
    with step(f"delete kind cluster {name}"):
        run([tools.find("kind"), "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig_path(name)])
        kubeconfig_path(name).unlink(missing_ok=True)
