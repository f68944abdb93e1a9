"""Project-wide pytest configuration.

The chartest plugin (fixtures for rendering, clusters, releases and clients) is
loaded by its entry point. Here we only bind pytest-helm-charts to our cluster:
its ``kube_cluster`` fixture and waiters then work on the kind cluster.
"""

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def kube_config(kind_cluster) -> str:
    """pytest-helm-charts' kubeconfig: the cluster chartest created or reused."""
    return str(kind_cluster.kubeconfig)
