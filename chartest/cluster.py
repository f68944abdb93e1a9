"""The kind cluster: create or reuse by name, kubeconfig in the state directory.

Traefik's web entry point is a NodePort (30080) mapped to a loopback port on
the host, so tests talk to the app exactly as a user would: through Traefik.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import nodeimage, paths, toolchain
from .progress import info, skip, step
from .shell import run

DEFAULT_NAME = os.environ.get("CHARTEST_CLUSTER", "webhooks")
INGRESS_NODE_PORT = 30080
DEFAULT_HOST_PORT = int(os.environ.get("CHARTEST_HTTP_PORT", "18080"))


@dataclass(frozen=True)
class Cluster:
    """A running kind cluster and how to reach it."""

    name: str
    kubeconfig: Path
    ingress_url: str  # where Traefik's `web` entry point answers, e.g. http://127.0.0.1:18080
    kind: bool = True  # False for an existing cluster given by --kubeconfig

    @property
    def node(self) -> str:
        return f"{self.name}-control-plane"

    def kubectl(self, *args: str, **kw) -> str:
        return run(["kubectl", "--kubeconfig", self.kubeconfig, *args], **kw)

    def load_image(self, image: str) -> None:
        """``kind load docker-image``: make a local image available to the node."""
        run(["kind", "load", "docker-image", "--name", self.name, image])


def loopback_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def kubeconfig_path(name: str) -> Path:
    return paths.KUBECONFIG_DIR / f"{name}.yaml"


def kind_config(image: str, http_port: int, local_image: bool, restrict_oom_score_adj: bool = False) -> dict:
    """The kind cluster config: one node, Traefik's NodePort mapped to loopback."""
    config: dict = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{
            "role": "control-plane",
            "image": image,
            "extraPortMappings": [{
                "containerPort": INGRESS_NODE_PORT,
                "hostPort": http_port,
                "listenAddress": "127.0.0.1",
                "protocol": "TCP",
            }],
        }],
    }
    if local_image:
        # the local node image carries a static ptp CNI instead of kindnetd
        config["networking"] = {"disableDefaultCNI": True}
    elif restrict_oom_score_adj:
        # kindest/node on a host without CAP_SYS_RESOURCE: the local image bakes this in
        config["containerdConfigPatches"] = [
            '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
        ]
    return config


def existing_clusters() -> list[str]:
    out = run(["kind", "get", "clusters"], check=False)
    return [line.strip() for line in out.splitlines() if line.strip() and "No kind clusters" not in line]


def _host_port_of(name: str) -> int | None:
    out = run(["docker", "port", f"{name}-control-plane", f"{INGRESS_NODE_PORT}/tcp"], check=False)
    for line in out.splitlines():
        if ":" in line:
            return int(line.rsplit(":", 1)[1])
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _healthy(cluster: Cluster) -> bool:
    try:
        out = cluster.kubectl("get", "nodes", "--no-headers", timeout=30)
    except Exception:
        return False
    return " Ready " in f" {out} "


def wait_ready(cluster: Cluster, timeout: float = 300) -> None:
    """Wait until the node is Ready and CoreDNS runs."""
    deadline = time.monotonic() + timeout
    cluster.kubectl("wait", "--for=condition=Ready", "node", "--all", f"--timeout={int(timeout)}s")
    remaining = max(10, int(deadline - time.monotonic()))
    cluster.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={remaining}s")


def ensure(name: str = DEFAULT_NAME, http_port: int = DEFAULT_HOST_PORT) -> Cluster:
    """Reuse the named cluster if it is healthy, else create it."""
    toolchain.on_path()
    for tool in ("kind", "kubectl"):
        toolchain.ensure_tool(tool)
    paths.ensure(paths.KUBECONFIG_DIR)
    kubeconfig = kubeconfig_path(name)
    if name in existing_clusters():
        run(["kind", "export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig])
        port = _host_port_of(name) or http_port
        cluster = Cluster(name, kubeconfig, loopback_url(port))
        if _healthy(cluster):
            skip(f"kind cluster {name}", f"reused (Traefik port {port})")
            return cluster
        info(f"cluster {name} exists but does not answer: recreating it")
        delete(name)
    image = nodeimage.ensure()
    if not _port_free(http_port):
        raise RuntimeError(f"port {http_port} on 127.0.0.1 is taken; set CHARTEST_HTTP_PORT to a free one")
    from .docker_engine import bounding_set_lacks_sys_resource

    config = kind_config(image, http_port, local_image=image.startswith(nodeimage.LOCAL_REPO),
                         restrict_oom_score_adj=bounding_set_lacks_sys_resource())
    config_file = paths.STATE / f"kind-{name}.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cluster = Cluster(name, kubeconfig, loopback_url(http_port))
    with step(f"create kind cluster {name} from {image}",
              f"`kind export logs --name {name}` collects node logs; `make cluster-down` cleans up"):
        try:
            run(["kind", "create", "cluster", "--name", name, "--config", config_file,
                 "--kubeconfig", kubeconfig, "--wait", "180s"], stream=True)
            with step("wait for the node and CoreDNS"):
                wait_ready(cluster)
        except BaseException:  # a half-made cluster (or Ctrl-C) must not be left behind
            run(["kind", "delete", "cluster", "--name", name], check=False)
            raise
    return cluster


def delete(name: str = DEFAULT_NAME) -> None:
    toolchain.on_path()
    if name not in existing_clusters():
        skip(f"kind cluster {name}", "not there")
        return
    with step(f"delete kind cluster {name}"):
        run(["kind", "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig_path(name)])
        kubeconfig_path(name).unlink(missing_ok=True)
