"""The webhooks chart on a cluster: e2e values, images, the readiness probe, and ``make up``.

The e2e values live in ``tests/e2e/values-e2e.yaml``; this module adds what is
only known at run time: the content tags of the locally built images and,
air-gapped, the local infrastructure images (FerretDB for mongo, NATS).
"""

from __future__ import annotations

import subprocess
import time

import yaml

from bootstrap import docker_images, images, nodeimage, paths
from chartest import Cluster, Release, deep_merge, pins
from chartest.cluster import kind, registry as registry_mod, release as release_mod, traefik
from chartest.cluster.registry import Registry
from chartest.progress import info, paint, say, skip, step
from chartest.shell import run

from .client import WebhooksClient
from .image_specs import APP_SERVICES, SPECS

CHART = paths.REPO_ROOT / "chart"
E2E_VALUES = paths.REPO_ROOT / "tests" / "e2e" / "values-e2e.yaml"
RELEASE_NAME = "webhooks"
UP_DOMAIN = "webhooks.localhost"  # `make up`'s; test releases use domains of their own


def split_tag(ref: str) -> tuple[str, str]:
    repository, _, tag = ref.rpartition(":")
    return repository, tag


def from_registry(repository: str) -> bool:
    """``host[:port]/...`` names a registry (``localhost:5001/webhooks/api``); ``webhooks/api`` does not."""
    first, _, rest = repository.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


def local_image_values(refs: dict[str, str]) -> dict:
    """Chart values that point a service at a built image: kind-loaded (never pulled),
    or pushed to a registry (``registry/...`` refs, pulled if absent: tags are content hashes)."""
    values: dict = {}
    for service, ref in refs.items():
        repository, tag = split_tag(ref)
        policy = "IfNotPresent" if from_registry(repository) else "Never"
        values[service] = {"tag": tag, "image": {"registry": "", "repository": repository, "pullPolicy": policy}}
    return values


def local_infra_values(refs: dict[str, str]) -> dict:
    """mongo -> FerretDB (MongoDB wire protocol, told its user the FerretDB way), nats -> local nats-server."""
    values = local_image_values({"mongo": refs["ferretdb"], "nats": refs["nats"]})
    values["mongo"]["flavor"] = "ferretdb"
    values["mongo"]["podSecurityContext"] = {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}
    return values


def registry_reachable() -> bool:
    """Can the cluster's node pull public images? Probed once by pulling the pinned NATS image."""
    return docker_images.pull(f"docker.io/library/nats:{pins.get('infra.nats')}-alpine", timeout=120)


def app_values(refs: dict[str, str], online_infra: bool, extra: dict | None = None) -> dict:
    values = yaml.safe_load(E2E_VALUES.read_text()) or {}
    values = deep_merge(values, local_image_values({s: refs[s] for s in APP_SERVICES}))
    if not online_infra:
        values = deep_merge(values, local_infra_values(refs))
    return deep_merge(values, extra or {})


def image_names(online_infra: bool) -> tuple[str, ...]:
    """The images a release needs: the services, plus NATS and FerretDB where the official ones cannot be pulled."""
    return APP_SERVICES if online_infra else APP_SERVICES + ("nats", "ferretdb")


def build_and_load(cluster: Cluster, online_infra: bool) -> dict[str, str]:
    """Build (cached) and ``kind load`` the images the release needs; returns their refs."""
    refs = images.ensure_all(SPECS[n] for n in image_names(online_infra))
    for ref in refs.values():
        if not _node_has(cluster, ref):
            with step(f"kind load {ref}"):
                cluster.load_image(ref)
    return refs


def build_and_push(registry: Registry, online_infra: bool) -> dict[str, str]:
    """Build (cached) the images the release needs and push them to ``registry``, which the
    cluster pulls from (no ``kind load``); returns the registry's refs. A tag the registry
    holds already is not pushed again (tags are content hashes)."""
    refs = {}
    for name, ref in images.ensure_all(SPECS[n] for n in image_names(online_infra)).items():
        repository, tag = split_tag(ref)
        if tag in registry.tags(repository):
            skip(f"push {ref}", f"{registry.host} has it")
            refs[name] = registry.ref(ref)
            continue
        with step(f"docker push {registry.ref(ref)}"):
            refs[name] = registry.push(ref)
    return refs


def _node_has(cluster: Cluster, ref: str) -> bool:
    probe = subprocess.run(["docker", "exec", cluster.node, "crictl", "inspecti", f"docker.io/{ref}"],
                           capture_output=True)
    return probe.returncode == 0


def wait_routed(release: Release, timeout: float = 60) -> None:
    """Wait until the ingress reaches every backend on the release's domain:
    api (``GET /stats``), www (``GET /``) and ws (a websocket handshake on
    ``/ws``), each answered by that service (``WebhooksClient.served_by``).

    Traefik applies a new IngressRoute, and a Service's first ready endpoints,
    a moment after helm returns. Until then a path gets Traefik's own 404, or
    falls through to the catch-all www route (Traefik drops a route whose
    Service has no endpoints yet), so checking one path is not enough.
    """
    if "domain" not in release.values or not release.cluster.ingress_url:
        return
    client = WebhooksClient(release.cluster.ingress_url, release.values["domain"], timeout=5)
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
        host = release.values["domain"]
        missing = "; ".join(f"{method} {host}{path} -> {backend} (answered: {last[(method, path)]})"
                            for (method, path), backend in pending.items())
        raise TimeoutError(f"the ingress did not route within {timeout:.0f}s: {missing}. "
                           f"Check `kubectl -n {release.namespace} get pods,endpointslices` and Traefik's log")


def wait_routed_if_ingress(release: Release, timeout: float = 60) -> None:
    """:func:`wait_routed` where Traefik runs in the cluster; without an ingress
    controller (a test that did not ask for ``traefik``) nothing routes, so there
    is nothing to wait for."""
    if release.cluster.kind and not traefik.installed(release.cluster):
        return
    wait_routed(release, timeout)


def ensure_cluster(name: str, http_port: int, nodes: int = 1) -> Cluster:
    """The kind cluster (1 control plane + ``nodes - 1`` workers) from the node image the bootstrap
    pulls or builds."""
    image = nodeimage.ensure()
    patch = registry_mod.with_config_path(nodeimage.kind_config_patch(image))  # a registry can be connected
    return kind.ensure(name, image=image, http_port=http_port, config_patch=patch, nodes=nodes)


def traefik_image() -> str | None:
    """Traefik's image where the official chart cannot be reached (air-gapped), else None."""
    return None if traefik.chart_reachable() else images.ensure(SPECS["traefik"])


def up(name: str, http_port: int) -> str:
    """The README's main command: cluster, Traefik, the app; returns the URL."""
    cluster = ensure_cluster(name, http_port)
    traefik.ensure(cluster, traefik_image())
    online = registry_reachable()
    info("public registry reachable: official nats/mongo images" if online else
         "air-gapped: local NATS and FerretDB images")
    refs = build_and_load(cluster, online)
    release = Release(cluster, CHART, RELEASE_NAME, RELEASE_NAME, app_values(refs, online, {"domain": UP_DOMAIN}))
    with step(f"helm upgrade --install {RELEASE_NAME} ./chart",
              f"`kubectl -n {RELEASE_NAME} get pods`; `kubectl -n {RELEASE_NAME} describe pods`"):
        release_mod.create_namespace(cluster, RELEASE_NAME)  # labelled restricted, like the tests' namespaces
        release.upgrade()
        release_mod.wait_ready(release)
        wait_routed(release)
    port = cluster.ingress_url.rsplit(":", 1)[1]
    url = f"http://{release.values['domain']}:{port}/"
    say(f"\n{paint('webhooks is up:', 'bold', 'green')} {url}")
    say(f"  (*.localhost resolves to 127.0.0.1 in browsers; with curl: "
        f"curl -H 'Host: webhooks.localhost' {cluster.ingress_url}/stats)")
    say(f"  kubeconfig: {cluster.kubeconfig}")
    return url
