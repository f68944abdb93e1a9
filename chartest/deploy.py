"""Installing a chart release into the cluster, and ``make up``.

The e2e values live in ``tests/e2e/values-e2e.yaml``; this module adds what is
only known at run time: the content tags of the locally built images and,
air-gapped, the local infrastructure images (FerretDB for mongo, NATS).
"""

from __future__ import annotations

import copy
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import cluster as cluster_mod
from . import docker, images, traefik, versions
from .client import WebhooksClient
from .cluster import Cluster
from .progress import console, info, step
from .shell import run

CHART = versions.PROJECT_ROOT / "chart"
E2E_VALUES = versions.PROJECT_ROOT / "tests" / "e2e" / "values-e2e.yaml"
APP_SERVICES = ("api", "ws", "www")


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` merged into a copy of ``base`` (dicts recursively, the rest replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def split_tag(ref: str) -> tuple[str, str]:
    repository, _, tag = ref.rpartition(":")
    return repository, tag


def local_image_values(refs: dict[str, str]) -> dict:
    """Chart values that point a service at a built image: kind-loaded (never pulled),
    or pushed to a registry (``registry/...`` refs, pulled if absent)."""
    values: dict = {}
    for service, ref in refs.items():
        repository, tag = split_tag(ref)
        policy = "IfNotPresent" if "/" in repository and "." in repository.split("/")[0] else "Never"
        values[service] = {"tag": tag, "image": {"registry": "", "repository": repository, "pullPolicy": policy}}
    return values


def local_infra_values(refs: dict[str, str]) -> dict:
    """mongo -> FerretDB (MongoDB wire protocol), nats -> local nats-server."""
    values = local_image_values({"mongo": refs["ferretdb"], "nats": refs["nats"]})
    values["mongo"]["podSecurityContext"] = {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}
    return values


def registry_reachable() -> bool:
    """Can the cluster's node pull public images? Probed once by pulling the pinned NATS image."""
    return docker.pull(f"docker.io/library/nats:{versions.get('infra.nats')}-alpine", timeout=120)


@dataclass
class Release:
    """A helm release of a chart in one namespace of a cluster."""

    cluster: Cluster
    name: str = "webhooks"
    namespace: str = "webhooks"
    chart: Path = CHART
    values: dict = field(default_factory=dict)

    def helm(self, *args: str, **kw) -> str:
        return run(["helm", *args, "--kubeconfig", self.cluster.kubeconfig, "--namespace", self.namespace], **kw)

    def upgrade(self, values: dict | None = None, timeout: str = "5m", wait: bool = True) -> None:
        """``helm upgrade --install`` with ``values`` (default: the release's own)."""
        if values is not None:
            self.values = values
        argv = ["upgrade", "--install", self.name, str(self.chart), "--create-namespace", "-f", "-",
                "--timeout", timeout]
        if wait:
            argv.append("--wait")
        self.helm(*argv, input=yaml.safe_dump(self.values))

    def wait_routed(self, timeout: float = 60) -> None:
        """Wait until the ingress reaches every backend on the release's domain:
        api (``GET /stats``), www (``GET /``) and ws (a websocket handshake on
        ``/ws``), each answered by that service (``WebhooksClient.served_by``).

        Traefik applies a new IngressRoute, and a Service's first ready
        endpoints, a moment after helm returns. Until then a path gets Traefik's
        own 404, or falls through to the catch-all www route (Traefik drops a
        route whose Service has no endpoints yet), so checking one path is not enough.
        """
        client = WebhooksClient(self.cluster.ingress_url, self.values["domain"], timeout=5)
        pending = {("GET", "/stats"): "api", ("GET", "/"): "www", ("WS", "/ws"): "ws"}
        last = dict.fromkeys(pending, "no answer")
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for (method, path), backend in list(pending.items()):
                try:
                    if method == "WS":
                        answer = client.served_by(method, path)
                        routed = answer == backend
                    else:  # the right service, and a 2xx from it
                        resp = client.request(method, path)
                        answer = f"{client.backend_of(resp)} ({resp.status_code})"
                        routed = resp.ok and client.backend_of(resp) == backend
                except Exception as exc:  # noqa: BLE001 - retried until the deadline
                    answer, routed = repr(exc)[:200], False
                last[(method, path)] = answer
                if routed:
                    del pending[(method, path)]
            if pending:
                time.sleep(0.5)
        if pending:
            host = self.values["domain"]
            missing = "; ".join(f"{method} {host}{path} -> {backend} (answered: {last[(method, path)]})"
                                for (method, path), backend in pending.items())
            raise TimeoutError(f"the ingress did not route within {timeout:.0f}s: {missing}. "
                               f"Check `kubectl -n {self.namespace} get pods,endpointslices` and Traefik's log")

    def rollback(self, revision: int, timeout: str = "5m") -> None:
        self.helm("rollback", self.name, str(revision), "--wait", "--timeout", timeout)

    def history(self) -> list[dict]:
        return yaml.safe_load(self.helm("history", self.name, "-o", "yaml"))

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", check=False)


def build_and_load(cluster: Cluster, online_infra: bool) -> dict[str, str]:
    """Build (cached) and ``kind load`` the images the release needs; returns their refs."""
    names = APP_SERVICES if online_infra else APP_SERVICES + ("nats", "ferretdb")
    refs = images.ensure_all(names)
    for name, ref in refs.items():
        if not _node_has(cluster, ref):
            with step(f"kind load {ref}"):
                cluster.load_image(ref)
    return refs


def build_and_push(registry: str) -> dict[str, str]:
    """For an existing cluster: build the app images and push them to ``registry``."""
    refs = {}
    for name, ref in images.ensure_all(APP_SERVICES).items():
        pushed = f"{registry.rstrip('/')}/{ref}"
        run(["docker", "tag", ref, pushed])
        with step(f"docker push {pushed}"):
            run(["docker", "push", pushed])
        refs[name] = pushed
    return refs


def _node_has(cluster: Cluster, ref: str) -> bool:
    probe = subprocess.run(["docker", "exec", cluster.node, "crictl", "inspecti", f"docker.io/{ref}"],
                           capture_output=True)
    return probe.returncode == 0


def app_values(refs: dict[str, str], online_infra: bool, extra: dict | None = None) -> dict:
    values = yaml.safe_load(E2E_VALUES.read_text()) or {}
    values = deep_merge(values, local_image_values({s: refs[s] for s in APP_SERVICES}))
    if not online_infra:
        values = deep_merge(values, local_infra_values(refs))
    return deep_merge(values, extra or {})


def up(name: str = cluster_mod.DEFAULT_NAME) -> str:
    """The README's main command: cluster, Traefik, the app; returns the URL."""
    c = cluster_mod.ensure(name)
    traefik.ensure(c)
    online = registry_reachable()
    info("public registry reachable: official nats/mongo images" if online else
         "air-gapped: local NATS and FerretDB images")
    refs = build_and_load(c, online)
    release = Release(c)
    with step("helm upgrade --install webhooks ./chart", "`kubectl -n webhooks get pods`; `kubectl -n webhooks describe pods`"):
        release.upgrade(app_values(refs, online))
        release.wait_routed()
    port = c.ingress_url.rsplit(":", 1)[1]
    url = f"http://{yaml.safe_load(E2E_VALUES.read_text())['domain']}:{port}/"
    console.print(f"\n[bold green]webhooks is up:[/] {url}")
    console.print(f"  (*.localhost resolves to 127.0.0.1 in browsers; with curl: "
                  f"curl -H 'Host: webhooks.localhost' {c.ingress_url}/stats)")
    console.print(f"  kubeconfig: {c.kubeconfig}")
    return url
