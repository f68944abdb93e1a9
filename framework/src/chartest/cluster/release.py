"""Helm releases of the chart under test, each in a namespace of its own.

:class:`Release` wraps ``helm upgrade --install``/``rollback``/``uninstall``;
:func:`wait_ready` is the generic readiness every release gets (every
workload of its manifest rolled out, every Service of it with ready
endpoints), on top of which a project may add a probe of its own;
:class:`Releases` installs releases in fresh namespaces labelled for the Pod
Security ``restricted`` profile and removes them afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .. import tools, yamlload
from ..shell import CommandError, run
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
    chart: Path | str  # a chart directory or archive, or a reference helm resolves (repo/name, oci://...)
    name: str
    namespace: str
    values: dict = field(default_factory=dict)
    values_files: list[Path] = field(default_factory=list)  # applied before ``values``, in order
    chart_flags: list[str] = field(default_factory=list)  # how helm gets the chart: --version, --plain-http

    def helm(self, *args: str, **kw) -> str:
        return run([tools.find("helm"), *args, "--kubeconfig", self.cluster.kubeconfig,
                    "--namespace", self.namespace], **kw)

    def upgrade(self, values: dict | None = None, timeout: str = "5m", wait: bool = True,
                chart: Path | str | None = None) -> None:
        """``helm upgrade --install`` with ``values`` (default: the release's own)."""
        if values is not None:
            self.values = values
        if chart is not None:
            self.chart = chart_ref(chart)
        argv = ["upgrade", "--install", self.name, str(self.chart), *self.chart_flags, "--create-namespace",
                *(arg for f in self.values_files for arg in ("-f", str(f))), "-f", "-", "--timeout", timeout]
        if wait:
            argv.append("--wait")
        self.helm(*argv, input=yaml.safe_dump(self.values))

    def rollback(self, revision: int, timeout: str = "5m") -> None:
        self.helm("rollback", self.name, str(revision), "--wait", "--timeout", timeout)

    def history(self) -> list[dict]:
        return yamlload.load(self.helm("history", self.name, "-o", "yaml", stdout_only=True))

    def manifest(self) -> list[dict]:
        """The resources helm installed for the current revision."""
        return [d for d in yamlload.load_all(self.helm("get", "manifest", self.name, stdout_only=True)) if d]

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", check=False)


def chart_ref(chart: Path | str) -> Path | str:
    """A chart that exists on disk as an absolute path (helm may run elsewhere), else the
    reference as given (``repo/name``, ``oci://...``), for helm to resolve."""
    path = Path(chart).expanduser()
    return path.resolve() if path.exists() else str(chart)


def _unready_services(release: Release, services: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(namespace, name) of ``services`` without a ready endpoint, with what was seen."""
    out = {}
    for namespace, name in services:
        seen = release.cluster.kubectl(
            "-n", namespace, "get", "endpointslices", "-l", f"kubernetes.io/service-name={name}",
            "-o", "jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{' '}{end}", check=False).split()
        if "true" not in seen:
            out[(namespace, name)] = f"no ready endpoint ({len(seen)} not ready)"
    return out


def wait_ready(release: Release, timeout: float = 300) -> None:
    """Every workload of the release rolled out and every Service with a ready endpoint.

    ``helm --wait`` already waits for most of this; Services are checked again
    because an ingress controller routes only to ready endpoints. A Service
    without a selector (its endpoints are managed by hand) or of type
    ExternalName has no endpoints to wait for and is skipped. Resources the
    manifest places in another namespace are waited for there.
    """
    deadline = time.monotonic() + timeout
    docs = release.manifest()

    def where(doc: dict) -> str:
        return (doc.get("metadata") or {}).get("namespace") or release.namespace

    for doc in docs:
        if doc.get("kind") in ROLLOUT_KINDS:
            left = max(10, int(deadline - time.monotonic()))
            release.cluster.kubectl("-n", where(doc), "rollout", "status",
                                    f"{doc['kind'].lower()}/{doc['metadata']['name']}", f"--timeout={left}s")
    services = [(where(d), d["metadata"]["name"]) for d in docs if d.get("kind") == "Service"
                and (d.get("spec") or {}).get("selector") and (d.get("spec") or {}).get("type") != "ExternalName"]
    pending = _unready_services(release, services)
    while pending and time.monotonic() < deadline:
        time.sleep(1)
        pending = _unready_services(release, list(pending))
    if pending:
        lines = "; ".join(f"Service {ns}/{svc}: {why}" for (ns, svc), why in pending.items())
        raise TimeoutError(f"release {release.name} in {release.namespace} is not ready after {timeout:.0f}s: "
                           f"{lines}. Check `kubectl -n {release.namespace} get pods,endpointslices`")


def _namespace_labels(cluster: Cluster, name: str) -> dict | None:
    """The namespace's labels, or None while it does not exist (or is still being deleted)."""
    out = cluster.kubectl("get", "namespace", name, "-o", "json", "--ignore-not-found", stdout_only=True)
    if not out.strip():
        return None
    doc = json.loads(out)
    if (doc.get("status") or {}).get("phase") == "Terminating":
        return None
    return (doc.get("metadata") or {}).get("labels") or {}


def create_namespace(cluster: Cluster, name: str, labels: dict | None = None, timeout: float = 180) -> bool:
    """Make sure namespace ``name`` exists; True when it is chartest's (to delete afterwards).

    A new namespace is labelled for the Pod Security ``restricted`` profile and as
    chartest's. One chartest made earlier (a kept cluster) is reused as it is; an
    existing namespace of someone else is used but never relabelled or deleted.
    A namespace a previous session is still deleting is waited for first.
    """
    deadline = time.monotonic() + timeout
    while True:
        phase = cluster.kubectl("get", "namespace", name, "-o", "jsonpath={.status.phase}",
                                "--ignore-not-found").strip()
        if phase != "Terminating":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} is still terminating after {timeout:.0f}s; "
                               f"see `kubectl get namespace {name} -o yaml` (status.conditions)")
        time.sleep(2)
    if phase:  # it exists
        existing = _namespace_labels(cluster, name) or {}
        return all(existing.get(k) == v for k, v in MANAGED_BY.items())
    doc = {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {**RESTRICTED, **MANAGED_BY, **(labels or {})}}}
    try:
        cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(doc))
    except CommandError as exc:
        if "AlreadyExists" not in exc.output:
            raise
        return False  # made meanwhile by someone else (another session): theirs to delete
    return True


def delete_namespace(cluster: Cluster, name: str) -> None:
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")


class Releases:
    """Installs releases of a chart, each in a fresh restricted namespace; removes them on :meth:`cleanup`.

    ``values_files`` (the ``values`` setting) and ``base_values`` (the project's
    ``release_values``) lie under each release's own values, in that order; ``probe(release)`` (the project's ``release_probe``) runs after
    the generic readiness, to wait for what only the project knows (routes).
    """

    def __init__(self, cluster: Cluster, chart: Path, release_name: str, base_values: dict | None = None,
                 probe: Callable[[Release], None] | None = None, keep: bool = False,
                 on_install: Callable[[Release], None] | None = None, values_files: list[Path] = ()):
        self.cluster, self.chart, self.release_name = cluster, chart, release_name
        self.values_files = list(values_files)
        self.base_values = base_values or {}
        self.probe, self.keep, self.on_install = probe, keep, on_install
        self.created: list[Release] = []
        self.owned_namespaces: list[str] = []  # created by chartest: deleted on cleanup

    def __call__(self, values: dict | None = None, *, chart: Path | str | None = None,
                 namespace: str | None = None, name: str | None = None, wait: bool = True,
                 timeout: str = "5m", probe: bool = True, chart_flags: list[str] = ()) -> Release:
        """Install the chart (or ``chart``) with ``base_values`` ⊕ ``values`` in a new namespace
        (or ``namespace``), wait until it is ready and probed; returns the :class:`Release`.
        ``chart_flags`` tell helm how to fetch ``chart`` (``--version``, ``--plain-http`` for an OCI ref)."""
        namespace = namespace or f"chartest-{uuid.uuid4().hex[:8]}"
        if create_namespace(self.cluster, namespace) and namespace not in self.owned_namespaces:
            self.owned_namespaces.append(namespace)
        release = Release(self.cluster, chart_ref(chart if chart is not None else self.chart),
                          name or self.release_name, namespace, deep_merge(self.base_values, values or {}),
                          list(self.values_files), list(chart_flags))
        self.created.append(release)
        if self.on_install:
            self.on_install(release)
        release.upgrade(timeout=timeout, wait=wait)
        if wait:
            wait_ready(release)
            if probe and self.probe:
                self.probe(release)
        return release

    def cleanup(self, keep_namespaces: set[str] | frozenset[str] = frozenset()) -> None:
        """Uninstall every release and delete the namespaces chartest created, except those in
        ``keep_namespaces`` (a failed test's, to look at); all are attempted, the first error is
        raised afterwards."""
        if self.keep:
            return
        errors: list[Exception] = []
        for release in reversed(self.created):
            if release.namespace in keep_namespaces:
                continue
            try:
                release.uninstall()
            except Exception as exc:  # noqa: BLE001 - the others are still cleaned up
                errors.append(exc)
        for namespace in self.owned_namespaces:
            if namespace in keep_namespaces:
                continue
            try:
                delete_namespace(self.cluster, namespace)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        self.created.clear()
        self.owned_namespaces.clear()
        if errors:
            raise errors[0]
