"""What a maintainer needs to see why a release misbehaved, written next to the failure.

For each namespace: every kind the release's manifest holds (custom kinds only
while their CRD exists, so a dump never fails on a kind the cluster lost),
events, ``describe pods``, and each pod's current and previous logs; for
each release, its manifest and values.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import tools
from ..shell import run
from .kind import Cluster

ALWAYS = ("pods", "services", "endpointslices", "events")


def _kinds_of(manifest: str) -> set[tuple[str, str]]:
    """(kind, apiVersion) of every document of a helm manifest."""
    out = set()
    for doc in yaml.safe_load_all(manifest):
        if isinstance(doc, dict) and doc.get("kind"):
            out.add((doc["kind"], doc.get("apiVersion", "")))
    return out


def _served(cluster: Cluster, kinds: set[tuple[str, str]]) -> list[str]:
    """``resource.group`` names for ``kubectl get`` of the kinds the API server serves now."""
    table = {}
    out = cluster.kubectl("api-resources", "--no-headers", check=False, timeout=60)
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 4:  # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
            name, api_version, kind = cols[0], cols[-3], cols[-1]
            group = api_version.rpartition("/")[0]
            table[(kind, api_version)] = f"{name}.{group}" if group else name
    return [table[k] for k in sorted(kinds) if k in table]


def dump_namespace(cluster: Cluster, namespace: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    kc = [tools.find("kubectl"), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace]
    helm = [tools.find("helm"), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace]
    kinds: set[tuple[str, str]] = set()
    for rel in run(helm + ["list", "-q"], check=False, timeout=60).split():
        manifest = run(helm + ["get", "manifest", rel], check=False, timeout=60)
        (dest / f"helm-{rel}-manifest.yaml").write_text(manifest)
        (dest / f"helm-{rel}-values.yaml").write_text(run(helm + ["get", "values", "--all", rel], check=False,
                                                          timeout=60))
        kinds |= _kinds_of(manifest)
    resources = ",".join(dict.fromkeys([*ALWAYS[:-1], *_served(cluster, kinds)]))
    commands = {
        "resources.txt": kc + ["get", resources, "-o", "wide"],
        "resources.yaml": kc + ["get", resources, "-o", "yaml"],
        "events.txt": kc + ["get", "events", "--sort-by=.lastTimestamp"],
        "describe-pods.txt": kc + ["describe", "pods"],
    }
    for filename, argv in commands.items():
        (dest / filename).write_text(run(argv, check=False, timeout=60))
    for pod in run(kc + ["get", "pods", "-o", "name"], check=False, timeout=60).split():
        short = pod.split("/")[-1]
        (dest / f"logs-{short}.txt").write_text(
            run(kc + ["logs", pod, "--all-containers", "--prefix", "--tail=1000"], check=False, timeout=60))
        previous = run(kc + ["logs", pod, "--all-containers", "--prefix", "--previous", "--tail=300"],
                       check=False, timeout=60)
        if "previous terminated container" not in previous:
            (dest / f"logs-{short}-previous.txt").write_text(previous)
