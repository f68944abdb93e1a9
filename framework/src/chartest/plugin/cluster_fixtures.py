"""Fixtures of the cluster tier: a cluster, an opt-in ingress controller, releases of the chart.

Nothing here imports the cluster modules or the kubernetes client until a
cluster fixture runs, so a render-only session never pays for them.

Fixtures a project may override (in its conftest) to fit its chart:
``kind_node_image`` (default: the ``node_image`` setting), ``kind_config_patch``
(merged into the kind config), ``traefik_image`` (None: the official chart),
``registry_image`` (the image a local OCI registry runs, see ``oci_registry``;
default: the official distribution registry at the pinned version),
``release_values`` (under every release's own values), ``release_probe``
(called with each installed release after the generic readiness).

``kind_cluster`` has the ``nodes`` setting's nodes; tests that need several
nodes whatever the setting (spreading, draining) ask for
``kind_cluster_with_nodes``: a second kind cluster ``<cluster_name>-multi`` of one
control plane and two workers from the same node image, on ``http_port + 1``,
pulling from the same local registry (``local_registry_with_nodes``).

In CI (``CI=true``) a cluster that cannot be had fails the tests that need
it; elsewhere they skip, and the summary line says how many ran.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .. import settings as settings_mod
from ..cluster import sharing
from .render_fixtures import in_ci

LIVE_RELEASES = pytest.StashKey[list]()
FAILED_NAMESPACES = pytest.StashKey[set]()  # namespaces of failed tests: kept with keep_cluster
CLUSTER_FIXTURE = "kind_cluster"
CLUSTER_FIXTURES = (CLUSTER_FIXTURE, "kind_cluster_with_nodes")
MULTI_NODE_COUNT = 3  # one control plane and two workers


def unavailable(reason: str):
    """Skip, or in CI fail: a test that cannot run (no cluster, no tool) is never silently skipped there."""
    if in_ci():
        pytest.fail(f"{reason}\n(CI=true: a test that cannot run is a failure)", pytrace=False)
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
    path = Path(settings_mod.of(config).artifacts) / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the cluster ------------------------------------------------------------------

@pytest.fixture(scope="session")
def kind_node_image(pytestconfig) -> str | None:
    """The node image a new kind cluster uses (None: kind's default)."""
    return settings_mod.of(pytestconfig).node_image


@pytest.fixture(scope="session")
def kind_config_patch() -> dict:
    """Merged into the kind cluster config (networking, containerd patches, more nodes)."""
    return {}


@pytest.fixture(scope="session")
def kind_cluster(request, pytestconfig):
    """The cluster under test: the ``kubeconfig`` setting's, or a kind cluster created or reused by name.

    A kind cluster this run created is deleted after its last test (Ctrl-C
    included) unless ``keep_cluster``; an existing one is never created, deleted
    or changed. pytest-xdist workers share one cluster (:mod:`chartest.cluster.sharing`).
    """
    from ..cluster import kind

    s = settings_mod.of(pytestconfig)
    if s.kubeconfig:
        if not Path(s.kubeconfig).is_file():
            unavailable(f"kubeconfig {s.kubeconfig} (from {s.source('kubeconfig')}) does not exist")
        yield kind.Cluster("external", Path(s.kubeconfig), s.ingress_url, kind=False)
        return
    cluster = _kind_cluster(request, s.cluster_name, s.http_port, s.nodes)
    if s.ingress_url:
        cluster = kind.Cluster(cluster.name, cluster.kubeconfig, s.ingress_url)
    try:
        yield cluster
    finally:
        if not is_xdist_worker(pytestconfig):  # under xdist the controller deletes it, after the last worker
            delete_cluster_if_ours(pytestconfig, s.cluster_name)


def multi_node_cluster_name(config) -> str:
    return f"{settings_mod.of(config).cluster_name}-multi"


MULTI_NODE_CLEANUP = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def kind_cluster_with_nodes(request, pytestconfig):
    """A kind cluster of one control plane and two workers, ``<cluster_name>-multi`` on the
    loopback port ``http_port + 1``, for tests that spread or drain (with ``kubeconfig``: the
    existing cluster itself, if it has two schedulable workers): created once per session
    (each module reuses it), from the same node image and config patch as ``kind_cluster``,
    shared by xdist workers (same lock and claim), deleted after the run's last test unless
    ``keep_cluster`` (the xdist controller deletes it, as it does ``kind_cluster``)."""
    s = settings_mod.of(pytestconfig)
    if s.kubeconfig:
        return _existing_cluster_with_workers(request, s, MULTI_NODE_COUNT - 1)
    name = multi_node_cluster_name(pytestconfig)
    cluster = _kind_cluster(request, name, s.http_port + 1, MULTI_NODE_COUNT)
    if not is_xdist_worker(pytestconfig) and not pytestconfig.stash.get(MULTI_NODE_CLEANUP, False):
        pytestconfig.stash[MULTI_NODE_CLEANUP] = True
        pytestconfig.add_cleanup(lambda: delete_cluster_if_ours(pytestconfig, name))
    return cluster


def _existing_cluster_with_workers(request, s, workers: int):
    """On an existing cluster (``kubeconfig``), multi-node tests run on it when it has ``workers``
    schedulable worker nodes (not the control plane, not cordoned); nothing is created."""
    import json

    cluster = request.getfixturevalue("kind_cluster")
    try:
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json", stdout_only=True))["items"]
    except Exception as exc:  # noqa: BLE001
        unavailable(f"cannot list the nodes of the existing cluster (kubeconfig {s.kubeconfig}): {exc}")
    schedulable = [n["metadata"]["name"] for n in nodes
                   if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})
                   and not n.get("spec", {}).get("unschedulable")]
    if len(schedulable) < workers:
        unavailable(f"a multi-node test needs {workers} schedulable worker nodes; the existing cluster "
                    f"(kubeconfig {s.kubeconfig} from {s.source('kubeconfig')}) has {len(schedulable)}")
    return cluster


def _kind_cluster(request, name: str, http_port: int, nodes: int):
    """Create or reuse the kind cluster ``name`` under its lock; claim it if this run made it."""
    from ..cluster import kind, registry

    try:
        image = request.getfixturevalue("kind_node_image")
        # containerd reads registry hosts from config_path: a local registry can be connected later
        patch = registry.with_config_path(request.getfixturevalue("kind_config_patch"))
        with visible(request.config), sharing.locked(f"kind-{name}"):
            reused = name in kind.existing_clusters() and kind.mismatch(name, image, nodes) is None
            cluster = kind.ensure(name, image=image, http_port=http_port, config_patch=patch, nodes=nodes)
            if not reused:
                sharing.claim(name)
    except Exception as exc:  # noqa: BLE001 - the reason goes into the skip/fail message
        unavailable(f"no kind cluster {name}: {exc}")
    return cluster


def is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def delete_cluster_if_ours(config, name: str | None = None) -> None:
    """Delete the kind cluster ``name`` (default: every one chartest makes) if this run created
    it (and ``keep_cluster`` is off)."""
    s = settings_mod.of(config)
    names = [name] if name else [s.cluster_name, multi_node_cluster_name(config)]
    for cluster in names:
        if s.kubeconfig or s.keep_cluster or not sharing.owned_by_this_run(cluster):
            continue
        from ..cluster import kind

        with visible(config):
            kind.delete(cluster)
        sharing.release_claim(cluster)


@pytest.fixture(scope="session")
def kube_api(kind_cluster):
    """A ``kubernetes`` API client for the cluster under test."""
    from kubernetes.config import new_client_from_config

    return new_client_from_config(str(kind_cluster.kubeconfig))


# -- the ingress controller (opt in by requesting `traefik`) ------------------------------

@pytest.fixture(scope="session")
def traefik_image() -> str | None:
    """A local Traefik image to install from (None: the official chart from its repository)."""
    return None


@pytest.fixture(scope="session")
def traefik(kind_cluster, request) -> str:
    """Traefik v3 in the cluster; returns the URL its ``web`` entry point answers on."""
    from ..cluster import traefik as traefik_mod

    if kind_cluster.kind:
        image = request.getfixturevalue("traefik_image")
        try:
            with visible(request.config), sharing.locked(f"traefik-{kind_cluster.name}"):
                traefik_mod.ensure(kind_cluster, image)
        except Exception as exc:  # noqa: BLE001
            unavailable(f"cannot install Traefik: {exc}")
    if not kind_cluster.ingress_url:
        unavailable("no ingress URL for this cluster: set --ingress-url / CHARTEST_INGRESS_URL / "
                    "ini chartest_ingress_url")
    return kind_cluster.ingress_url


# -- the OCI registry (opt in by requesting `local_registry`) ----------------------------

@pytest.fixture(scope="session")
def registry_image() -> str:
    """The image a local OCI registry runs: the official CNCF distribution registry at the pinned
    version (a project on a machine without a registry overrides this with one it built)."""
    from .. import pins

    return f"docker.io/library/registry:{pins.get('registry.distribution').lstrip('v')}"


@pytest.fixture(scope="session")
def oci_registry(request):
    """An OCI registry to push images and charts to: the ``image_registry`` setting's, else a
    local one from ``registry_image`` on ``127.0.0.1:<registry_port>`` (reused when it runs;
    removed after the run's last test if this run started it, unless ``keep_cluster``)."""
    from ..cluster import registry

    s = settings_mod.of(request.config)
    if s.image_registry:
        yield registry.Registry(s.image_registry)
        return
    try:
        with visible(request.config), sharing.locked(f"registry-{s.registry_port}"):
            started = not registry.running(s.registry_port)
            local = registry.ensure(request.getfixturevalue("registry_image"), s.registry_port)
            if started:
                sharing.claim(registry.container_name(s.registry_port))
    except Exception as exc:  # noqa: BLE001 - the reason goes into the skip/fail message
        unavailable(f"no OCI registry: give --image-registry, or let chartest start one on port "
                    f"{s.registry_port} (needs Docker and the registry_image): {exc}")
    try:
        yield local
    finally:
        if not is_xdist_worker(request.config):  # under xdist the controller removes it, after the last worker
            delete_registry_if_ours(request.config)


def delete_registry_if_ours(config) -> None:
    """Remove the local registry if this run started it (and ``keep_cluster`` is off)."""
    from ..cluster import registry

    s = settings_mod.of(config)
    name = registry.container_name(s.registry_port)
    if s.image_registry or s.keep_cluster or not sharing.owned_by_this_run(name):
        return
    with visible(config):
        registry.delete(registry.Registry(f"localhost:{s.registry_port}", name))
    sharing.release_claim(name)


@pytest.fixture(scope="session")
def local_registry(request, kind_cluster):
    """The OCI registry the cluster pulls the project's images (and charts) from.

    The ``image_registry`` setting's registry when given (its admin made the nodes pull
    from it; nothing is started or changed). Otherwise :func:`oci_registry`'s local one,
    connected to the kind cluster the way kind's docs do (the registry joins the ``kind``
    network, every node gets a containerd hosts.toml, kube-public gets the
    ``local-registry-hosting`` ConfigMap).
    """
    from ..cluster import registry

    s = settings_mod.of(request.config)
    if not s.image_registry and not kind_cluster.kind:
        unavailable("an existing cluster pulls only from registries its admin set up: pass --image-registry "
                    "REGISTRY (one its nodes pull from; `docker login` done where it needs one)")
    return _connected_registry(request, kind_cluster)


@pytest.fixture(scope="module")
def local_registry_with_nodes(request, kind_cluster_with_nodes):
    """:func:`local_registry` for ``kind_cluster_with_nodes``: the same registry (so the same
    image references), connected to that cluster too."""
    return _connected_registry(request, kind_cluster_with_nodes)


def _connected_registry(request, cluster):
    from ..cluster import registry

    reg = request.getfixturevalue("oci_registry")
    if reg.container and cluster.kind:
        try:
            with visible(request.config), sharing.locked(f"registry-{cluster.name}"):
                registry.connect(reg, cluster)
        except Exception as exc:  # noqa: BLE001
            unavailable(f"cannot connect registry {reg.host} to kind cluster {cluster.name}: {exc}")
    return reg


# -- helm releases --------------------------------------------------------------------

@pytest.fixture(scope="session")
def release_values() -> dict:
    """Values under every release's own (images the project built, small requests, ...)."""
    return {}


@pytest.fixture(scope="session")
def release_probe() -> Callable[[Any], None] | None:
    """Called with each installed release after the generic readiness; None: no probe."""
    return None


def make_releases(request, kind_cluster, chart: Path | None = None, base_values: dict | None = None):
    """A :class:`chartest.cluster.release.Releases` with the run's settings and the project's fixtures
    (``base_values`` instead of ``release_values`` where given: another cluster's, say)."""
    from ..cluster.release import Releases

    s = settings_mod.of(request.config)
    stash = request.config.stash.setdefault(LIVE_RELEASES, [])
    if base_values is None:
        base_values = request.getfixturevalue("release_values")
    return Releases(kind_cluster, chart or s.chart, s.release,
                    base_values=base_values,
                    probe=request.getfixturevalue("release_probe"),
                    on_install=stash.append, values_files=s.values)


@contextmanager
def installing(request, kind_cluster, chart: Path | None = None, base_values: dict | None = None):
    """Releases installed inside the block (dumped if a test fails meanwhile), removed after it."""
    releases = make_releases(request, kind_cluster, chart, base_values)
    failed = request.config.stash.setdefault(FAILED_NAMESPACES, set())
    try:
        yield releases
    except Exception as exc:
        # a release that failed while a fixture set it up is gone before any report is made: dump it now
        failed.update(r.namespace for r in releases.created)
        if releases.created:
            dest = dump_releases(request.config, request.node.nodeid + "-setup", releases.created)
            exc.add_note(f"chartest artifacts: every resource, event and log of the release are in {dest}")
        raise
    finally:
        live = request.config.stash.get(LIVE_RELEASES, [])
        for release in releases.created:
            if release in live:
                live.remove(release)
        # a kept cluster keeps what failed, to look at; the rest goes, so runs do not pile up releases
        releases.cleanup(keep_namespaces=failed if settings_mod.of(request.config).keep_cluster else set())


@pytest.fixture
def helm_release(request, kind_cluster):
    """Factory: ``helm_release(values=None, chart=None, ...)`` installs the chart in a new
    namespace, waits until it is ready, and removes it after the test."""
    with installing(request, kind_cluster) as releases:
        yield releases


# -- the browser ----------------------------------------------------------------------

@pytest.fixture
def browser_page(request):
    """A Playwright page in headless Chromium; a screenshot is saved when the test ends."""
    from ..browser import CHROMIUM_FLAGS, chromium_executable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed ({exc}): pip install 'chartest[browser]'")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        except Exception as exc:  # noqa: BLE001
            unavailable(f"cannot start Chromium: {exc}\ninstall a Chromium (Debian: apt-get install chromium) "
                        "or `python -m playwright install chromium`")
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


# -- hooks: failure dumps, the e2e count -------------------------------------------------

WHOLE_CLUSTER_GROUP = "chartest-whole-cluster"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Tests that need a cluster are marked ``e2e``, so the summary counts them; tests
    marked ``needs_whole_cluster`` all go to one xdist worker."""
    for item in items:
        if set(CLUSTER_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("needs_whole_cluster"):
            item.add_marker(pytest.mark.xdist_group(WHOLE_CLUSTER_GROUP))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    releases = item.config.stash.get(LIVE_RELEASES, [])
    if not releases or not set(CLUSTER_FIXTURES) & set(getattr(item, "fixturenames", ())):
        return
    started = time.monotonic()
    dest = dump_releases(item.config, item.nodeid, releases)
    namespaces = sorted({r.namespace for r in releases})
    item.config.stash.setdefault(FAILED_NAMESPACES, set()).update(namespaces)
    report.sections.append((
        "chartest artifacts",
        f"pod logs, events, every resource of the release and its manifest and values for {namespaces} "
        f"are in {dest} (collected in {time.monotonic() - started:.1f}s)",
    ))


def dump_releases(config, name: str, releases: list) -> Path:
    """Dump every namespace of ``releases`` under the artifacts directory; returns where."""
    from ..cluster.dumps import dump_namespace

    dest = artifacts_dir(config, name)
    for namespace in sorted({r.namespace for r in releases}):
        try:
            dump_namespace(releases[0].cluster, namespace, dest / namespace)
        except Exception as exc:  # noqa: BLE001 - a dump must never hide the real failure
            (dest / f"{namespace}-dump-error.txt").write_text(repr(exc))
    return dest


def e2e_summary(terminalreporter) -> None:
    """Say how many cluster tests ran: a suite that silently skips them is a lie."""
    stats = terminalreporter.stats

    def e2e(reports):
        return [r for r in reports if getattr(r, "when", "call") in ("call", "setup") and "e2e" in r.keywords]

    passed = len([r for r in e2e(stats.get("passed", [])) if r.when == "call"])
    failed = len(e2e(stats.get("failed", [])) + e2e(stats.get("error", [])))
    skipped = len(e2e(stats.get("skipped", [])))
    if passed or failed or skipped:
        color = {"red": True} if failed or (skipped and in_ci()) else ({"yellow": True} if skipped else {"green": True})
        terminalreporter.write_sep("-", f"chartest e2e: {passed} passed, {failed} failed, {skipped} skipped", **color)
