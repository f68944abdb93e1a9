"""Helm releases of the chart under test, each in a namespace of its own.

:class:`Release` wraps ``helm upgrade --install``/``rollback``/``uninstall``;
:func:`wait_ready` is the generic readiness every release gets (every
workload of its manifest rolled out, every Service of it with ready
endpoints), on top of which a project may add a probe of its own;
:class:`Releases` installs releases in fresh namespaces labelled for the Pod
Security ``restricted`` profile and removes them afterwards.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .. import tools
from ..shell import run
from .kind import Cluster, deep_merge

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
MANAGED_BY = {"app.kubernetes.io/managed-by": "chartest"}
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass
class Release:
    """A helm release of a chart in one namespace of a cluster."""

    cluster: Cluster
    chart: Path
    name: str
    namespace: str
    values: dict = field(default_factory=dict)

    def helm(self, *args: str, **kw) -> str:
        return run([tools.find("helm"), *args, "--kubeconfig", self.cluster.kubeconfig,
                    "--namespace", self.namespace], **kw)

    def upgrade(self, values: dict | None = None, timeout: str = "5m", wait: bool = True,
                chart: Path | str | None = None) -> None:
        """``helm upgrade --install`` with ``values`` (default: the release's own)."""
        if values is not None:
            self.values = values
        if chart is not None:
            self.chart = chart
        argv = ["upgrade", "--install", self.name, str(self.chart), "--create-namespace", "-f", "-",
                "--timeout", timeout]
        if wait:
            argv.append("--wait")
        self.helm(*argv, input=yaml.safe_dump(self.values))

    def rollback(self, revision: int, timeout: str = "5m") -> None:
        self.helm("rollback", self.name, str(revision), "--wait", "--timeout", timeout)

    def history(self) -> list[dict]:
        return yaml.safe_load(self.helm("history", self.name, "-o", "yaml"))

    def manifest(self) -> list[dict]:
        """The resources helm installed for the current revision."""
        return [d for d in yaml.safe_load_all(self.helm("get", "manifest", self.name)) if d]

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", check=False)


def _unready_services(release: Release, services: list[str]) -> dict[str, str]:
    """Services of ``services`` without a ready endpoint, with what was seen."""
    out = {}
    for name in services:
        seen = release.cluster.kubectl(
            "-n", release.namespace, "get", "endpointslices", "-l", f"kubernetes.io/service-name={name}",
            "-o", "jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{' '}{end}", check=False).split()
        if "true" not in seen:
            out[name] = f"ready endpoints: none ({len(seen)} not ready)"
    return out


def wait_ready(release: Release, timeout: float = 300) -> None:
    """Every workload of the release rolled out and every Service with a ready endpoint.

    ``helm --wait`` already waits for most of this; Services are checked again
    because an ingress controller routes only to ready endpoints, and a
    headless or selector-less Service is skipped (it has no endpoints to wait for).
    """
    deadline = time.monotonic() + timeout
    docs = release.manifest()
    for doc in docs:
        if doc.get("kind") in ROLLOUT_KINDS:
            left = max(10, int(deadline - time.monotonic()))
            release.cluster.kubectl("-n", release.namespace, "rollout", "status",
                                    f"{doc['kind'].lower()}/{doc['metadata']['name']}", f"--timeout={left}s")
    services = [d["metadata"]["name"] for d in docs if d.get("kind") == "Service"
                and (d.get("spec") or {}).get("selector") and (d.get("spec") or {}).get("type") != "ExternalName"]
    pending = _unready_services(release, services)
    while pending and time.monotonic() < deadline:
        time.sleep(1)
        pending = _unready_services(release, list(pending))
    if pending:
        lines = "; ".join(f"{svc}: {why}" for svc, why in pending.items())
        raise TimeoutError(f"release {release.name} in {release.namespace} is not ready after {timeout:.0f}s: "
                           f"{lines}. Check `kubectl -n {release.namespace} get pods,endpointslices`")


def create_namespace(cluster: Cluster, name: str, labels: dict | None = None, timeout: float = 180) -> None:
    """Create ``name`` labelled restricted; reuse it if it exists (a kept cluster), and
    wait first while a previous session's cleanup still terminates it."""
    labels = {**RESTRICTED, **MANAGED_BY, **(labels or {})}
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    deadline = time.monotonic() + timeout
    while True:
        phase = cluster.kubectl("get", "namespace", name, "-o", "jsonpath={.status.phase}", check=False).strip()
        if phase != "Terminating":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} is still terminating after {timeout:.0f}s")
        time.sleep(2)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def delete_namespace(cluster: Cluster, name: str) -> None:
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")


class Releases:
    """Installs releases of a chart, each in a fresh restricted namespace; removes them on :meth:`cleanup`.

    ``base_values`` (the project's ``release_values``) lie under each release's
    own values; ``probe(release)`` (the project's ``release_probe``) runs after
    the generic readiness, to wait for what only the project knows (routes).
    """

    def __init__(self, cluster: Cluster, chart: Path, release_name: str, base_values: dict | None = None,
                 probe: Callable[[Release], None] | None = None, keep: bool = False,
                 on_install: Callable[[Release], None] | None = None):
        self.cluster, self.chart, self.release_name = cluster, chart, release_name
        self.base_values = base_values or {}
        self.probe, self.keep, self.on_install = probe, keep, on_install
        self.created: list[Release] = []

    def __call__(self, values: dict | None = None, *, chart: Path | str | None = None,
                 namespace: str | None = None, name: str | None = None, wait: bool = True,
                 timeout: str = "5m", probe: bool = True) -> Release:
        """Install the chart (or ``chart``) with ``base_values`` ⊕ ``values`` in a new namespace."""
        namespace = namespace or f"chartest-{uuid.uuid4().hex[:8]}"
        create_namespace(self.cluster, namespace)
        release = Release(self.cluster, Path(chart) if chart and Path(str(chart)).exists() else (chart or self.chart),
                          name or self.release_name, namespace, deep_merge(self.base_values, values or {}))
        self.created.append(release)
        if self.on_install:
            self.on_install(release)
        release.upgrade(timeout=timeout, wait=wait)
        if wait:
            wait_ready(release)
            if probe and self.probe:
                self.probe(release)
        return release

    def cleanup(self) -> None:
        if self.keep:
            return
        for release in self.created:
            release.uninstall()
            delete_namespace(self.cluster, release.namespace)
