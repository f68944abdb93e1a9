"""The cluster smoke check: the three things every later test relies on.

1. a freshly built local image reaches the node: ``kind load docker-image``, or
   (any cluster) a push to the registry the nodes pull from;
2. a pod from that image reaches Running;
3. a Service name resolves through cluster DNS from another pod and answers
   over the Service IP.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.config import new_client_from_config

from bootstrap import baseimages, docker_images, paths
from chartest import Cluster
from chartest.cluster.registry import Registry
from chartest.progress import step
from chartest.shell import run

NAMESPACE = "chartest-smoke"
CLIENT_SCRIPT = """
import socket, sys, urllib.request
ip = socket.gethostbyname("smoke")
print("resolved", ip)
if ip != sys.argv[1]:
    sys.exit(f"smoke resolved to {ip}, expected the Service IP {sys.argv[1]}")
body = urllib.request.urlopen(f"http://{ip}/nonce.txt", timeout=10).read().decode().strip()
print("answered", body)
if body != sys.argv[2]:
    sys.exit(f"unexpected answer {body!r}")
"""


@dataclass
class SmokeResult:
    image: str
    service_ip: str
    client_log: str
    timings: dict[str, float] = field(default_factory=dict)


def build_image() -> tuple[str, str]:
    """A new local image with a unique tag and a nonce to serve; returns (tag, nonce)."""
    nonce = uuid.uuid4().hex
    tag = f"chartest/smoke:{nonce[:12]}"
    ctx = paths.BUILD / "smoke"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "nonce.txt").write_text(nonce + "\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {baseimages.ensure(baseimages.PYTHON)}\n"
        "COPY nonce.txt /srv/nonce.txt\nWORKDIR /srv\nUSER 10001:10001\n"
    )
    docker_images.build(ctx, tag)
    return tag, nonce


def _wait_phase(core: client.CoreV1Api, name: str, phases: set[str], timeout: float = 120) -> client.V1Pod:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, NAMESPACE)
        phase = pod.status.phase
        if phase in phases:
            return pod
        if phase == "Failed" or time.monotonic() > deadline:
            log = ""
            try:
                log = core.read_namespaced_pod_log(name, NAMESPACE)
            except client.ApiException:
                pass
            raise AssertionError(f"pod {name} is {phase}, wanted {sorted(phases)}: {pod.status}\n{log}")
        time.sleep(1)


def _pod(name: str, image: str, command: list[str], labels: dict | None = None,
         pull_policy: str = "Never") -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            automount_service_account_token=False,
            containers=[client.V1Container(
                name=name, image=image, image_pull_policy=pull_policy, command=command,
            )],
        ),
    )


def run_smoke(cluster: Cluster, registry: Registry | None = None) -> SmokeResult:
    """The smoke check; with ``registry`` the image is pushed there and pulled by the node
    (any cluster), else ``kind load``ed (never pulled)."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    local, nonce = build_image()
    timings["build"] = time.monotonic() - t

    t = time.monotonic()
    if registry is None:
        image, pull_policy = local, "Never"
        cluster.load_image(image)
        timings["kind load"] = time.monotonic() - t
    else:
        image, pull_policy = registry.push(local), "IfNotPresent"
        timings["push"] = time.monotonic() - t

    api = new_client_from_config(str(cluster.kubeconfig))
    core = client.CoreV1Api(api)
    try:
        core.delete_namespace(NAMESPACE)
        while True:
            core.read_namespace(NAMESPACE)
            time.sleep(1)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    try:
        t = time.monotonic()
        core.create_namespaced_pod(NAMESPACE, _pod(
            "server", image, ["python3", "-m", "http.server", "8080"], {"app": "smoke"}, pull_policy))
        svc = core.create_namespaced_service(NAMESPACE, client.V1Service(
            metadata=client.V1ObjectMeta(name="smoke"),
            spec=client.V1ServiceSpec(selector={"app": "smoke"},
                                      ports=[client.V1ServicePort(port=80, target_port=8080)]),
        ))
        _wait_phase(core, "server", {"Running"})
        timings["server Running"] = time.monotonic() - t

        t = time.monotonic()
        ip = svc.spec.cluster_ip
        core.create_namespaced_pod(NAMESPACE, _pod(
            "client", image, ["python3", "-c", CLIENT_SCRIPT, ip, nonce], pull_policy=pull_policy))
        _wait_phase(core, "client", {"Succeeded"})
        log = core.read_namespaced_pod_log("client", NAMESPACE)
        timings["DNS + Service IP"] = time.monotonic() - t
        return SmokeResult(image, ip, log, timings)
    finally:
        core.delete_namespace(NAMESPACE)
        run(["docker", "rmi", *{local, image}], check=False)  # one-off tags must not pile up


def check(cluster: Cluster) -> SmokeResult:
    with step("cluster smoke check (kind load, pod Running, DNS, Service IP)",
              "inspect `kubectl -n chartest-smoke get events`; CoreDNS and kube-proxy must run"):
        result = run_smoke(cluster)
    return result
