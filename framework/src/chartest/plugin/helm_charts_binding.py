"""pytest-helm-charts' ``kube_config``, bound to chartest's cluster.

With it, pytest-helm-charts' ``kube_cluster`` fixture and its waiters work on
the cluster chartest created or was given, not on whatever ``$KUBECONFIG``
names. Registered by the plugin only when pytest-helm-charts is loaded.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def kube_config(kind_cluster) -> str:
    return str(kind_cluster.kubeconfig)
