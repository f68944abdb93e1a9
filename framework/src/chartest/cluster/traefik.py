"""Traefik v3 in the cluster: the opt-in ingress controller of the cluster tier.

With no image given: the official Traefik Helm chart at the pinned version,
its `web` entry point on NodePort 30080. With an image (a project that cannot
reach the chart repository builds one): the same shape from that image, with
the CRDs and ClusterRole rules read at install time from the pinned
``github.com/traefik/traefik/v3`` Go module (never committed).
Either way, pods are labelled ``app.kubernetes.io/name: traefik`` (the chart's
NetworkPolicies admit that label) and HTTP reaches Traefik on the cluster's
loopback port.
"""

from __future__ import annotations

import subprocess

import yaml

from .. import gomod, pins, tools, yamlload
from ..progress import info, step
from ..shell import CommandError, run
from .kind import INGRESS_NODE_PORT, Cluster

NAMESPACE = "traefik"
RELEASE = "traefik"
CHART_REPO = "https://traefik.github.io/charts"
LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": RELEASE}


def chart_reachable(timeout: float = 20) -> bool:
    """True when the official chart repository answers (the online path)."""
    try:
        run([tools.find("helm"), "show", "chart", "traefik", "--repo", CHART_REPO,
             "--version", pins.get("traefik.chart")], timeout=timeout)
        return True
    except (CommandError, subprocess.TimeoutExpired):
        return False


def crd_documents() -> list[dict]:
    """Traefik's CRDs and RBAC rules from the pinned Traefik Go module."""
    module = gomod.module_dir("github.com/traefik/traefik/v3", pins.get("traefik.version"))
    ref = module / "docs/content/reference/dynamic-configuration"
    return [d for d in yamlload.load_all((ref / "kubernetes-crd-definition-v1.yml").read_text()) if d]


def cluster_role_rules() -> list[dict]:
    module = gomod.module_dir("github.com/traefik/traefik/v3", pins.get("traefik.version"))
    rbac = module / "docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml"
    for doc in yamlload.load_all(rbac.read_text()):
        if doc and doc.get("kind") == "ClusterRole":
            return doc["rules"]
    raise RuntimeError(f"no ClusterRole in {rbac.name}")


def offline_manifests(image: str) -> list[dict]:
    """Namespace, RBAC, Deployment and NodePort Service for a local Traefik."""
    restricted = {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    args = [
        "--entryPoints.web.address=:8000",
        "--entryPoints.websecure.address=:8443",
        "--entryPoints.traefik.address=:8080",
        "--ping=true",
        "--providers.kubernetescrd",
        "--providers.kubernetesingress",
        "--log.level=INFO",
        "--accesslog=true",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": RELEASE, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "chartest-traefik"}, "rules": cluster_role_rules()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "chartest-traefik"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "chartest-traefik"},
         "subjects": [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": RELEASE, "namespace": NAMESPACE, "labels": LABELS},
         "spec": {
             "replicas": 1,
             "selector": {"matchLabels": LABELS},
             "template": {
                 "metadata": {"labels": LABELS},
                 "spec": {
                     "serviceAccountName": RELEASE,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{
                         "name": "traefik", "image": image, "imagePullPolicy": "Never", "args": args,
                         "ports": [{"name": "web", "containerPort": 8000},
                                   {"name": "websecure", "containerPort": 8443},
                                   {"name": "traefik", "containerPort": 8080}],
                         "readinessProbe": {"httpGet": {"path": "/ping", "port": 8080}, "periodSeconds": 2},
                         "livenessProbe": {"httpGet": {"path": "/ping", "port": 8080}, "periodSeconds": 10},
                         "securityContext": restricted,
                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                       "limits": {"cpu": "500m", "memory": "256Mi"}},
                         "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                     }],
                     "volumes": [{"name": "tmp", "emptyDir": {}}],
                 },
             },
         }},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": RELEASE, "namespace": NAMESPACE, "labels": LABELS},
         "spec": {"type": "NodePort", "selector": LABELS, "ports": [
             {"name": "web", "port": 80, "targetPort": "web", "nodePort": INGRESS_NODE_PORT},
             {"name": "websecure", "port": 443, "targetPort": "websecure"},
         ]}},
    ]


def _apply(cluster: Cluster, docs: list[dict]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                    input=yaml.safe_dump_all(docs, sort_keys=False))


def install_from_image(cluster: Cluster, image: str) -> None:
    """Traefik from a local image (``kind load``ed), CRDs and RBAC from the pinned Go module."""
    cluster.load_image(image)
    _apply(cluster, crd_documents())
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    _apply(cluster, offline_manifests(image))
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{RELEASE}", "--timeout=180s")


def install_chart(cluster: Cluster) -> None:
    values = {
        "service": {"type": "NodePort"},
        "ports": {"web": {"nodePort": INGRESS_NODE_PORT}},
        "ingressRoute": {"dashboard": {"enabled": False}},
        "providers": {"kubernetesIngress": {"enabled": True}},
        "globalArguments": ["--global.checkNewVersion=false", "--global.sendAnonymousUsage=false"],
    }
    run([tools.find("helm"), "upgrade", "--install", RELEASE, "traefik", "--repo", CHART_REPO,
         "--version", pins.get("traefik.chart"), "--namespace", NAMESPACE, "--create-namespace",
         "--kubeconfig", cluster.kubeconfig, "--wait", "--timeout", "5m", "-f", "-"],
        input=yaml.safe_dump(values))


def installed(cluster: Cluster) -> bool:
    out = cluster.kubectl("-n", NAMESPACE, "get", "deployment", "-l", "app.kubernetes.io/name=traefik",
                          "-o", "jsonpath={.items[*].status.readyReplicas}", check=False)
    return any(n.isdigit() and int(n) > 0 for n in out.split())


def ensure(cluster: Cluster, image: str | None = None) -> str:
    """Install Traefik unless it already runs; returns how: present, chart or image."""
    if installed(cluster):
        info("Traefik already runs in the cluster")
        return "present"
    if image is None or chart_reachable():
        with step(f"install Traefik from the official chart {pins.get('traefik.chart')}",
                  f"`helm status {RELEASE} -n {NAMESPACE}`; check that the chart repository answers, or give "
                  "the traefik_image fixture a local image"):
            install_chart(cluster)
        return "chart"
    with step(f"install Traefik {pins.get('traefik.version')} from {image} (CRDs from the Go module)",
              f"`kubectl -n {NAMESPACE} describe pods`"):
        install_from_image(cluster, image)
    return "image"
