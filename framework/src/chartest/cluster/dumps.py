"""What a maintainer needs to see why a release misbehaved, written next to the failure.

For each namespace: every kind the releases' manifests hold (custom kinds only
while their CRD exists, so a dump never fails on a kind the cluster lost;
cluster-scoped objects of a release by name; Secrets by name only), events, ``describe pods``, and
each pod's current and previous logs; for each release (failed and pending
ones included), its manifest, values and history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import tools, yamlload
from ..shell import run
from .kind import Cluster

ALWAYS = ("pods", "services", "endpointslices")  # what is worth seeing even if no manifest names it
SECRET_RESOURCES = {"secrets"}  # listed by name only: artifacts are uploaded, secret values must not be


@dataclass(frozen=True)
class ServedKind:
    resource: str     # what ``kubectl get`` takes: ``name.group`` (just ``name`` for the core group)
    namespaced: bool


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def manifest_objects(manifest: str) -> list[dict]:
    """The objects of a helm manifest (``List`` kinds unrolled)."""
    out = []
    for doc in yamlload.load_all(manifest):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            out.extend(i for i in doc["items"] if isinstance(i, dict) and i.get("kind"))
        else:
            out.append(doc)
    return out


def redacted(obj: dict) -> dict:
    """A Secret with its values replaced (the keys stay: they say what was configured)."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            out[field] = dict.fromkeys(obj[field], "<redacted>")
    return out


def parse_api_resources(table: str) -> dict[tuple[str, str], ServedKind]:
    """``kubectl api-resources --no-headers`` -> {(kind, group): ServedKind}.

    Columns are NAME [SHORTNAMES] APIVERSION NAMESPACED KIND (SHORTNAMES may be
    empty), so they are read from the right. Kinds are matched by group, not
    version: a manifest may use a version the server serves but does not prefer.
    """
    served: dict[tuple[str, str], ServedKind] = {}
    for line in table.splitlines():
        cols = line.split()
        if len(cols) < 4 or cols[-2] not in ("true", "false"):
            continue  # an error line (an aggregated API that does not answer), not a resource
        name, api_version, namespaced, kind = cols[0], cols[-3], cols[-2] == "true", cols[-1]
        group = _group(api_version)
        served.setdefault((kind, group), ServedKind(f"{name}.{group}" if group else name, namespaced))
    return served


def served_kinds(cluster: Cluster) -> dict[tuple[str, str], ServedKind]:
    """The kinds the API server serves now (a CRD deleted since the install is not among them)."""
    return parse_api_resources(cluster.kubectl("api-resources", "--no-headers", check=False, timeout=60))


def plan(objects: list[dict], served: dict[tuple[str, str], ServedKind], namespace: str) \
        -> tuple[list[str], list[tuple[str, str]]]:
    """What to get: namespaced resource types (all of them in ``namespace``), and
    cluster-scoped objects by (resource, name). Kinds the server does not serve are left out."""
    namespaced = list(ALWAYS)
    cluster_scoped: list[tuple[str, str]] = []
    for obj in objects:
        kind = served.get((obj["kind"], _group(obj.get("apiVersion", ""))))
        if kind is None:
            continue
        if kind.namespaced:
            if kind.resource not in namespaced:
                namespaced.append(kind.resource)
        else:
            entry = (kind.resource, (obj.get("metadata") or {}).get("name", ""))
            if entry[1] and entry not in cluster_scoped:
                cluster_scoped.append(entry)
    return namespaced, cluster_scoped


def dump_namespace(cluster: Cluster, namespace: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    kubectl = [tools.find("kubectl"), "--kubeconfig", str(cluster.kubeconfig)]
    kc = kubectl + ["-n", namespace]
    helm = [tools.find("helm"), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace]

    def save(filename: str, argv: list[str]) -> str:
        out = run(argv, check=False, timeout=60)
        (dest / filename).write_text(out)
        return out

    objects: list[dict] = []
    for rel in run(helm + ["list", "--all", "-q"], check=False, timeout=60).split():
        found = manifest_objects(run(helm + ["get", "manifest", rel], check=False, timeout=60, stdout_only=True))
        (dest / f"helm-{rel}-manifest.yaml").write_text(
            yaml.safe_dump_all([redacted(o) for o in found], sort_keys=False))
        objects += found
        save(f"helm-{rel}-values.yaml", helm + ["get", "values", "--all", rel])
        save(f"helm-{rel}-history.txt", helm + ["history", rel])
    namespaced, cluster_scoped = plan(objects, served_kinds(cluster), namespace)
    save("resources.txt", kc + ["get", ",".join(namespaced), "-o", "wide"])
    save("resources.yaml", kc + ["get", ",".join(r for r in namespaced if r not in SECRET_RESOURCES), "-o", "yaml"])
    if cluster_scoped:
        save("cluster-resources.yaml", kubectl + ["get", *[f"{res}/{name}" for res, name in cluster_scoped],
                                                  "-o", "yaml", "--ignore-not-found"])
    save("events.txt", kc + ["get", "events", "--sort-by=.lastTimestamp"])
    save("describe-pods.txt", kc + ["describe", "pods"])
    for pod in run(kc + ["get", "pods", "-o", "name"], check=False, timeout=60).split():
        short = pod.split("/")[-1]
        save(f"logs-{short}.txt", kc + ["logs", pod, "--all-containers", "--prefix", "--tail=1000"])
        previous = run(kc + ["logs", pod, "--all-containers", "--prefix", "--previous", "--tail=300"],
                       check=False, timeout=60)
        if "previous terminated container" not in previous:
            (dest / f"logs-{short}-previous.txt").write_text(previous)
