"""An OCI registry the cluster pulls from: a local one connected to kind, or one given.

A local registry runs as a container on a loopback port of the host, the way
kind's documentation connects one ("local registry"):

* every node's containerd reads registry hosts from ``config_path``
  (:func:`with_config_path` adds that ``containerdConfigPatches`` entry to a kind
  config; it must be there when the cluster is created);
* the registry container joins kind's Docker network, and each node gets a
  ``hosts.toml`` saying that ``localhost:<port>`` (the name the host pushes to)
  is served by ``http://<container>:5000`` inside that network;
* the ``local-registry-hosting`` ConfigMap in ``kube-public`` tells tools where
  the registry is (KEP-1755).

So an image pushed from the host as ``localhost:<port>/name:tag`` is pulled by
the nodes under the same name: no ``kind load``. A registry given by the
``image_registry`` setting is used as it is (the cluster's admin made the nodes
pull from it).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import tools
from . import kind
from ..progress import info, skip, step
from ..shell import CommandError, run

CONTAINER_PORT = 5000
CERTS_DIR = "/etc/containerd/certs.d"
KIND_NETWORK = "kind"
CONFIG_PATH_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"\n'
HOSTING_CONFIGMAP = "local-registry-hosting"


@dataclass(frozen=True)
class Registry:
    """Where images and charts are pushed (``host``, e.g. ``localhost:5001``) and, for a
    local registry, the container serving it."""

    host: str
    container: str | None = None

    @property
    def plain_http(self) -> bool:
        """Loopback registries speak plain HTTP (docker allows it for loopback only)."""
        name = self.host.split("/")[0].rsplit(":", 1)[0]
        return name in ("localhost", "127.0.0.1", "[::1]") or name.endswith(".localhost")

    @property
    def url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host.split('/')[0]}"

    def ref(self, image: str) -> str:
        """``image`` (``repository:tag``) as pushed to this registry."""
        return f"{self.host.rstrip('/')}/{image}"

    def push(self, image: str) -> str:
        """``docker tag`` + ``docker push`` a local image; returns the registry's ref."""
        pushed = self.ref(image)
        run(["docker", "tag", image, pushed])
        run(["docker", "push", pushed])
        return pushed

    def tags(self, repository: str) -> list[str]:
        """The tags the registry holds for ``repository`` (the OCI distribution API)."""
        try:
            with urllib.request.urlopen(f"{self.url}/v2/{repository}/tags/list", timeout=10) as resp:
                return json.load(resp).get("tags") or []
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return []
            raise

    def oci(self, path: str = "charts") -> str:
        """The ``oci://`` base for helm charts under ``path``."""
        return f"oci://{self.host.rstrip('/')}/{path}"

    def helm_flags(self) -> list[str]:
        return ["--plain-http"] if self.plain_http else []


def with_config_path(patch: dict | None) -> dict:
    """``patch`` (a kind config patch) plus the containerd ``config_path`` entry, appended to
    whatever ``containerdConfigPatches`` it has (a list, which a plain merge would replace)."""
    merged = dict(patch or {})
    patches = list(merged.get("containerdConfigPatches") or [])
    if CONFIG_PATH_PATCH not in patches:
        patches.append(CONFIG_PATH_PATCH)
    merged["containerdConfigPatches"] = patches
    return merged


def container_name(port: int) -> str:
    return f"chartest-registry-{port}"


def answers(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _running(name: str) -> bool | None:
    """True running, False stopped, None absent."""
    try:
        out = run(["docker", "inspect", "--format", "{{.State.Running}}", name])
    except CommandError:
        return None
    return out.strip() == "true"


def running(port: int) -> bool:
    return bool(_running(container_name(port)))


def ensure(image: str, port: int) -> Registry:
    """A registry from ``image`` on ``127.0.0.1:port`` (reused when it runs already)."""
    name = container_name(port)
    registry = Registry(f"localhost:{port}", name)
    state = _running(name)
    if state and answers(registry.url):
        skip(f"registry {registry.host}", f"running ({name})")
        return registry
    if state is not None:
        run(["docker", "rm", "--force", "--volumes", name])
    with step(f"start registry {registry.host} from {image}",
              f"`docker logs {name}`; is port {port} free? set --registry-port / CHARTEST_REGISTRY_PORT"):
        run(["docker", "run", "--detach", "--restart=always", "--name", name,
             "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", image])
        deadline = time.monotonic() + 30
        while not answers(registry.url):
            if time.monotonic() > deadline:
                logs = run(["docker", "logs", "--tail", "20", name], check=False)
                raise RuntimeError(f"registry {name} does not answer on {registry.url}/v2/:\n{logs}")
            time.sleep(0.3)
    return registry


def delete(registry: Registry) -> None:
    if registry.container and _running(registry.container) is not None:
        with step(f"delete registry {registry.container}"):
            run(["docker", "rm", "--force", "--volumes", registry.container])


def hosts_toml(registry: Registry) -> str:
    """containerd's hosts.toml for the registry's host name: served inside kind's network."""
    return (f'[host."http://{registry.container}:{CONTAINER_PORT}"]\n'
            '  capabilities = ["pull", "resolve"]\n')


def hosting_configmap(registry: Registry) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": HOSTING_CONFIGMAP, "namespace": "kube-public"},
            "data": {"localRegistryHosting.v1": yaml.safe_dump({
                "host": registry.host,
                "help": "https://kind.sigs.k8s.io/docs/user/local-registry/"}, sort_keys=False)}}


def connect(registry: Registry, cluster) -> None:
    """Make every node of the kind ``cluster`` pull ``registry.host`` from the registry container."""
    if not registry.container:
        raise ValueError(f"registry {registry.host} has no local container to connect")
    with step(f"connect registry {registry.host} to kind cluster {cluster.name}",
              f"`docker network inspect {KIND_NETWORK}`; each node needs containerd config_path {CERTS_DIR}"):
        attached = run(["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", registry.container])
        if KIND_NETWORK not in json.loads(attached or "{}"):
            run(["docker", "network", "connect", KIND_NETWORK, registry.container])
        toml = hosts_toml(registry)
        host_dir = f"{CERTS_DIR}/{registry.host}"
        nodes = kind.node_containers(cluster.name)
        if not nodes:
            raise RuntimeError(f"kind cluster {cluster.name} has no nodes to connect {registry.host} to")
        for node in nodes:
            config = run(["docker", "exec", node, "cat", "/etc/containerd/config.toml"])
            if "config_path" not in config:
                raise RuntimeError(
                    f"node {node} of kind cluster {cluster.name} was created without containerd config_path "
                    f"(the registry patch): delete the cluster (`kind delete cluster --name {cluster.name}`) "
                    "and let chartest create it again")
            run(["docker", "exec", "-i", node, "sh", "-c",
                 f"mkdir -p '{host_dir}' && cat > '{host_dir}/hosts.toml'"], input=toml)
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(hosting_configmap(registry)))
    info(f"kind cluster {cluster.name} pulls {registry.host}/... from {registry.container}")


def package_chart(chart_dir: Path, dest: Path) -> Path:
    """``helm package`` into ``dest``; returns the archive."""
    dest.mkdir(parents=True, exist_ok=True)
    out = run([tools.find("helm"), "package", str(chart_dir), "--destination", str(dest)])
    path = Path(out.strip().rsplit(":", 1)[-1].strip())
    if not path.is_file():
        raise RuntimeError(f"helm package wrote no archive where it said: {out.strip()}")
    return path


@dataclass(frozen=True)
class PushedChart:
    ref: str       # oci://host/path/name, what `helm install` takes
    version: str   # its tag (`--version`)
    digest: str

    def install_flags(self, registry: Registry) -> list[str]:
        return ["--version", self.version, *registry.helm_flags()]


def push_chart(archive: Path, registry: Registry, path: str = "charts") -> PushedChart:
    """``helm push`` an archive to ``oci://<registry>/<path>``; returns where it went."""
    out = run([tools.find("helm"), "push", str(archive), registry.oci(path), *registry.helm_flags()])
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    pushed = fields.get("Pushed", "").strip()
    if not pushed:
        raise RuntimeError(f"helm push said nothing about what it pushed: {out.strip()}")
    name, _, version = pushed.rpartition(":")
    return PushedChart(f"oci://{name}", version, fields.get("Digest", "").strip())
