"""Fixtures of the end-to-end tier: a cluster, Traefik, helm releases, clients.

Session scope for what is slow and shared (the kind cluster, Traefik, images);
function scope for what a test may break (its own release in its own
namespace). In CI (``CI=true``) a cluster that cannot be had fails the tests
that need it; elsewhere they skip, and the summary says so.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.config import new_client_from_config

from . import cluster as cluster_mod
from . import deploy, paths
from . import traefik as traefik_mod
from .client import WebhooksClient
from .cluster import Cluster
from .deploy import Release
from .shell import run

__all__ = [
    "kind_cluster", "kube_api", "traefik", "online_infra", "app_images", "helm_release",
    "webhooks_app", "webhooks", "make_webhooks_client", "browser_page",
]

LIVE_RELEASES = pytest.StashKey[list]()
E2E_FIXTURES = {"kind_cluster", "kube_config"}
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def addoption(parser) -> None:
    group = parser.getgroup("chartest-e2e", "chartest end-to-end tier")
    group.addoption("--cluster-name", default=cluster_mod.DEFAULT_NAME,
                    help="kind cluster to create or reuse (default: %(default)s)")
    group.addoption("--keep-cluster", action="store_true",
                    help="keep the kind cluster and test namespaces after the session")
    # --kubeconfig PATH (run against an existing cluster instead of kind) is
    # pytest-helm-charts' own option; chartest reads it rather than shadowing it.
    group.addoption("--ingress-url", default=None,
                    help="Traefik's web entry point for --kubeconfig clusters (default http://127.0.0.1:18080)")
    group.addoption("--image-registry", default=None,
                    help="for --kubeconfig clusters: push the app images here (the cluster pulls them)")
    group.addoption("--artifacts", default=str(paths.ARTIFACTS),
                    help="where failure dumps and screenshots go (default: %(default)s)")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip, or in CI fail: an end-to-end test that cannot run is never silently skipped there."""
    if in_ci():
        pytest.fail(f"{reason}\n(CI=true: an end-to-end test that cannot run is a failure)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def visible(config) -> Iterator[None]:
    """Let progress output of slow fixture steps reach the terminal."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        yield
        return
    with capman.global_and_fixture_disabled():
        yield


def artifacts_dir(config, nodeid: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]
    path = Path(config.getoption("--artifacts")) / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the cluster ------------------------------------------------------------------

@pytest.fixture(scope="session")
def kind_cluster(request) -> Iterator[Cluster]:
    """A cluster to test against: ``--kubeconfig``'s, or a kind cluster created or reused by name."""
    config = request.config
    external = config.getoption("--kubeconfig", default=None)
    if external:
        url = config.getoption("--ingress-url") or cluster_mod.loopback_url(cluster_mod.DEFAULT_HOST_PORT)
        yield Cluster("external", Path(external).resolve(), url, kind=False)
        return
    from . import docker_engine, toolchain

    name = config.getoption("--cluster-name")
    toolchain.on_path()
    preexisting = False
    try:
        with visible(config):
            docker_engine.ensure_engine()
            toolchain.ensure_tool("kind")
            preexisting = name in cluster_mod.existing_clusters()
            cluster = cluster_mod.ensure(name)
    except Exception as exc:  # noqa: BLE001 - the reason goes into the skip/fail message
        unavailable(f"no kind cluster: {exc}\nrun `make cluster` to see the full output")
    try:
        yield cluster
    finally:
        if not preexisting and not config.getoption("--keep-cluster"):
            with visible(config):
                cluster_mod.delete(name)


@pytest.fixture(scope="session")
def kube_api(kind_cluster) -> k8s.ApiClient:
    """A kubernetes client for the cluster under test."""
    return new_client_from_config(str(kind_cluster.kubeconfig))


@pytest.fixture(scope="session")
def traefik(kind_cluster, request) -> str:
    """Traefik v3 installed (official chart online, local parts air-gapped); returns its URL."""
    if kind_cluster.kind:
        with visible(request.config):
            traefik_mod.ensure(kind_cluster)
    return kind_cluster.ingress_url


@pytest.fixture(scope="session")
def online_infra(kind_cluster) -> bool:
    """True where public images can be pulled: nats/mongo then use the official images.

    An existing (non-kind) cluster is assumed to pull public images itself."""
    return deploy.registry_reachable() if kind_cluster.kind else True


@pytest.fixture(scope="session")
def app_images(kind_cluster, online_infra, request) -> dict[str, str]:
    """The locally built images, loaded into the kind node (or pushed to
    ``--image-registry`` for an existing cluster); name -> image ref."""
    if kind_cluster.kind:
        with visible(request.config):
            return deploy.build_and_load(kind_cluster, online_infra)
    registry = request.config.getoption("--image-registry")
    if not registry:
        unavailable("a --kubeconfig cluster cannot `kind load`: pass --image-registry REGISTRY "
                    "(one the cluster pulls from, `docker login` done) to push the app images there")
    with visible(request.config):
        return deploy.build_and_push(registry)


# -- helm releases --------------------------------------------------------------------

def _create_namespace(api: k8s.ApiClient, name: str, timeout: float = 180) -> None:
    """Create ``name`` labelled restricted; reuse it if it exists (a kept cluster),
    wait first if it is still terminating (a previous session's cleanup)."""
    core = k8s.CoreV1Api(api)
    body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(
        name=name, labels={**RESTRICTED, "app.kubernetes.io/part-of": "chartest"}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            core.create_namespace(body)
            return
        except k8s.ApiException as exc:
            if exc.status != 409:
                raise
        try:
            existing = core.read_namespace(name)
        except k8s.ApiException as exc:
            if exc.status == 404:
                continue  # gone between the two calls: create it now
            raise
        if existing.metadata.deletion_timestamp is None:
            core.patch_namespace(name, {"metadata": {"labels": body.metadata.labels}})
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} is still terminating after {timeout:.0f}s")
        time.sleep(2)


def _delete_namespace(api: k8s.ApiClient, name: str) -> None:
    try:
        k8s.CoreV1Api(api).delete_namespace(name)
    except k8s.ApiException as exc:
        if exc.status != 404:
            raise


class ReleaseFactory:
    """Installs releases of the chart, each in a fresh namespace labelled restricted."""

    def __init__(self, cluster: Cluster, api: k8s.ApiClient, config):
        self.cluster, self.api, self.config = cluster, api, config
        self.created: list[Release] = []

    def __call__(self, values: dict, *, namespace: str | None = None, name: str = "webhooks",
                 wait: bool = True, timeout: str = "5m", wait_routed: bool = True) -> Release:
        """Install ``values`` in a new namespace; with ``wait_routed``, also wait until
        the ingress reaches api, www and ws on the release's domain."""
        namespace = namespace or f"e2e-{uuid.uuid4().hex[:8]}"
        _create_namespace(self.api, namespace)
        release = Release(self.cluster, name=name, namespace=namespace)
        self.created.append(release)
        self.config.stash.setdefault(LIVE_RELEASES, []).append(release)
        release.upgrade(values, timeout=timeout, wait=wait)
        if wait and wait_routed and "domain" in values:
            release.wait_routed()
        return release

    def cleanup(self) -> None:
        if self.config.getoption("--keep-cluster"):
            return
        live = self.config.stash.get(LIVE_RELEASES, [])
        for release in self.created:
            release.uninstall()
            _delete_namespace(self.api, release.namespace)
            if release in live:
                live.remove(release)


@pytest.fixture
def helm_release(kind_cluster, kube_api, traefik, request) -> Iterator[ReleaseFactory]:
    """Factory: ``helm_release(values)`` installs the chart in a new namespace, removed afterwards."""
    factory = ReleaseFactory(kind_cluster, kube_api, request.config)
    try:
        yield factory
    finally:
        factory.cleanup()


def release_values(app_images, online_infra, domain: str, extra: dict | None = None) -> dict:
    """E2E values for a release served on ``domain``."""
    return deploy.app_values(app_images, online_infra, {"domain": domain, **(extra or {})})


@pytest.fixture(scope="session")
def webhooks_app(kind_cluster, kube_api, traefik, app_images, online_infra, request) -> Iterator[Release]:
    """The chart installed once per session with the e2e values, behind Traefik."""
    from .progress import step

    factory = ReleaseFactory(kind_cluster, kube_api, request.config)
    values = release_values(app_images, online_infra, "e2e.webhooks.localhost")
    try:
        with visible(request.config), step("helm install webhooks (e2e values) and wait for every pod"):
            release = factory(values, namespace="webhooks-e2e")
        yield release
    finally:
        factory.cleanup()


@pytest.fixture(scope="session")
def make_webhooks_client(traefik) -> Callable[[str], WebhooksClient]:
    """``make_webhooks_client(domain)``: a client for the app served on ``domain``."""
    return lambda domain: WebhooksClient(traefik, domain)


@pytest.fixture
def webhooks(webhooks_app, make_webhooks_client) -> WebhooksClient:
    """A client of the session's app, through Traefik."""
    return make_webhooks_client(webhooks_app.values["domain"])


# -- the browser ----------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_executable() -> str | None:
    """A system Chromium (Debian's package), else None for Playwright's own browser."""
    from shutil import which

    for candidate in (os.environ.get("CHARTEST_CHROMIUM"), "/usr/bin/chromium", "chromium",
                      "chromium-browser", "google-chrome"):
        if candidate and (found := which(candidate)):
            return found
    return None


@pytest.fixture
def browser_page(request):
    """A Playwright page in headless Chromium; a screenshot is saved when the test ends."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed: {exc}")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        except Exception as exc:  # noqa: BLE001
            unavailable(f"cannot start Chromium: {exc}\nrun `make setup` (it installs Debian's chromium)")
        page = browser.new_page()
        try:
            yield page
        finally:
            shot = artifacts_dir(request.config, request.node.nodeid) / "screenshot.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except Exception:  # noqa: BLE001 - a screenshot is best effort
                pass
            browser.close()


# -- failure artifacts -------------------------------------------------------------------

def dump_namespace(cluster: Cluster, namespace: str, dest: Path) -> None:
    """Everything a maintainer needs to see why a release misbehaved."""
    dest.mkdir(parents=True, exist_ok=True)
    kc = ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", namespace]
    commands = {
        "resources.txt": kc + ["get", "all,ingressroutes,networkpolicies,pvc,secrets,configmaps", "-o", "wide"],
        "events.txt": kc + ["get", "events", "--sort-by=.lastTimestamp"],
        "describe-pods.txt": kc + ["describe", "pods"],
        "logs.txt": kc + ["logs", "--all-containers", "--prefix", "--tail=500", "-l", "app.kubernetes.io/part-of"],
        "logs-previous.txt": kc + ["logs", "--all-containers", "--prefix", "--previous", "--tail=200",
                                   "-l", "app.kubernetes.io/part-of"],
    }
    for filename, argv in commands.items():
        (dest / filename).write_text(run(argv, check=False, timeout=60))
    for pod in run(kc + ["get", "pods", "-o", "name"], check=False, timeout=60).split():
        out = run(kc + ["logs", pod, "--all-containers", "--prefix", "--tail=1000"], check=False, timeout=60)
        (dest / f"logs-{pod.split('/')[-1]}.txt").write_text(out)
    helm = ["helm", "--kubeconfig", str(cluster.kubeconfig), "-n", namespace]
    releases = run(helm + ["list", "-q"], check=False, timeout=60).split()
    for rel in releases:
        (dest / f"helm-{rel}-manifest.yaml").write_text(run(helm + ["get", "manifest", rel], check=False, timeout=60))
        (dest / f"helm-{rel}-values.yaml").write_text(
            run(helm + ["get", "values", "--all", rel], check=False, timeout=60))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed or not (E2E_FIXTURES & set(item.fixturenames)):
        return
    releases = item.config.stash.get(LIVE_RELEASES, [])
    if not releases:
        return
    dest = artifacts_dir(item.config, item.nodeid)
    started = time.monotonic()
    namespaces = {r.namespace for r in releases} | {traefik_mod.NAMESPACE}
    for namespace in sorted(namespaces):
        try:
            dump_namespace(releases[0].cluster, namespace, dest / namespace)
        except Exception as exc:  # noqa: BLE001 - a dump must never hide the real failure
            (dest / f"{namespace}-dump-error.txt").write_text(repr(exc))
    report.sections.append((
        "chartest artifacts",
        f"pod logs, events, describe output and the rendered release of {sorted(namespaces)} "
        f"are in {dest} (collected in {time.monotonic() - started:.1f}s)",
    ))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many end-to-end tests ran: a suite that silently skips them is a lie."""
    stats = terminalreporter.stats
    def e2e(reports):
        return [r for r in reports if getattr(r, "when", "call") in ("call", "setup") and "e2e" in r.keywords]
    passed = len([r for r in e2e(stats.get("passed", [])) if r.when == "call"])
    failed = len(e2e(stats.get("failed", [])) + e2e(stats.get("error", [])))
    skipped = len(e2e(stats.get("skipped", [])))
    if passed or failed or skipped:
        color = {"red": True} if failed or (skipped and in_ci()) else ({"yellow": True} if skipped else {"green": True})
        terminalreporter.write_sep("-", f"chartest e2e: {passed} passed, {failed} failed, {skipped} skipped", **color)
