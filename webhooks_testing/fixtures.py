"""How this repository's conftest fits chartest to the webhooks chart.

It overrides chartest's extension fixtures: the kind node image and config
(pulled, or built by the bootstrap), Traefik's image where its chart cannot be
reached, the registry image (the distribution registry the bootstrap builds), the values under every release (images built here, small requests)
and the readiness probe (api, www and ws answer through the ingress). On top,
the fixtures the webhooks tests use: the session's app and clients of it.
"""

from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest

from chartest import Release, installing, visible
from chartest.cluster import sharing
from chartest.progress import step
from chartest.settings import of as settings_of

from . import deploy
from .client import WebhooksClient



@pytest.fixture(scope="session")
def kind_node_image(pytestconfig) -> str:
    """The pinned kindest/node where it can be pulled, else the one the bootstrap builds."""
    from bootstrap import engine, nodeimage

    if settings_of(pytestconfig).node_image:
        return settings_of(pytestconfig).node_image
    with visible(pytestconfig):
        engine.ensure_engine()
        return nodeimage.ensure()


@pytest.fixture(scope="session")
def kind_config_patch(kind_node_image) -> dict:
    from bootstrap import nodeimage

    return nodeimage.kind_config_patch(kind_node_image)


@pytest.fixture(scope="session")
def traefik_image(pytestconfig) -> str | None:
    with visible(pytestconfig):
        return deploy.traefik_image()


@pytest.fixture(scope="session")
def registry_image(pytestconfig) -> str:
    """The distribution registry built by the bootstrap (no registry to pull the official one from)."""
    from bootstrap import registryimage

    with visible(pytestconfig):
        return registryimage.ensure()


@pytest.fixture(scope="session")
def online_infra(kind_cluster) -> bool:
    """True where public images can be pulled (probed from this host): nats/mongo then use the
    official images; otherwise the local NATS and FerretDB images go to the registry too."""
    return deploy.registry_reachable()


@pytest.fixture(scope="session")
def app_images(local_registry, online_infra, pytestconfig) -> dict[str, str]:
    """The locally built images, pushed to the OCI registry the cluster pulls from (a local
    one connected to kind, or the ``image_registry`` setting's); name -> image ref.
    xdist workers take turns: the first builds and pushes, the rest find the images there."""
    with visible(pytestconfig), sharing.locked("app-images"):
        return deploy.build_and_push(local_registry, online_infra)


@pytest.fixture(scope="module")
def multi_node_release_values(request, kind_cluster_with_nodes, pytestconfig) -> dict:
    """:func:`release_values` for ``kind_cluster_with_nodes``: the same images, pushed to the
    same registry (connected to that cluster too), without creating the one-node cluster;
    on an existing cluster (it is the same one) just :func:`release_values`."""
    if not kind_cluster_with_nodes.kind:
        return request.getfixturevalue("release_values")
    local_registry_with_nodes = request.getfixturevalue("local_registry_with_nodes")
    online = deploy.registry_reachable()
    with visible(pytestconfig), sharing.locked("app-images"):
        return deploy.app_values(deploy.build_and_push(local_registry_with_nodes, online), online)


@pytest.fixture(scope="module")
def multi_node_traefik(request, kind_cluster_with_nodes, traefik_image, pytestconfig) -> str:
    """Traefik in ``kind_cluster_with_nodes``; returns the URL its web entry point answers on
    (on an existing cluster, the one its admin installed: :func:`traefik`)."""
    from chartest.cluster import traefik

    if not kind_cluster_with_nodes.kind:
        return request.getfixturevalue("traefik")
    with visible(pytestconfig), sharing.locked(f"traefik-{kind_cluster_with_nodes.name}"):
        traefik.ensure(kind_cluster_with_nodes, traefik_image)
    return kind_cluster_with_nodes.ingress_url


@pytest.fixture(scope="session")
def release_values(app_images, online_infra) -> dict:
    """The e2e values with the images of this session (each test adds its own domain)."""
    return deploy.app_values(app_images, online_infra)


@pytest.fixture(scope="session")
def release_probe() -> Callable[[Release], None]:
    """api, www and ws answer on the release's domain through Traefik (where Traefik runs)."""
    return deploy.wait_routed_if_ingress


@pytest.fixture(scope="session")
def webhooks_app(request, kind_cluster, traefik, release_values) -> Iterator[Release]:
    """The chart installed once per session with the e2e values, behind Traefik.

    Namespace and domain are the session's own: sessions sharing a cluster
    (a developer's and CI's, or two runs at once) never see each other's app."""
    session = uuid.uuid4().hex[:6]
    with installing(request, kind_cluster) as releases:
        with visible(request.config), step("helm install webhooks (e2e values) and wait until it is routed"):
            release = releases({"domain": f"e2e-{session}.webhooks.localhost"},
                               namespace=f"webhooks-e2e-{session}")
        yield release


@pytest.fixture(scope="session")
def make_webhooks_client(traefik) -> Callable[[str], WebhooksClient]:
    """``make_webhooks_client(domain)``: a client for the app served on ``domain``."""
    return lambda domain: WebhooksClient(traefik, domain)


@pytest.fixture
def webhooks(webhooks_app, make_webhooks_client) -> WebhooksClient:
    """A client of the session's app, through Traefik."""
    return make_webhooks_client(webhooks_app.values["domain"])
