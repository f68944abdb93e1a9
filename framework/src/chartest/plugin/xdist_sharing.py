"""pytest-xdist support: workers share one cluster, and whole-cluster tests share one worker.

Registered only where pytest-xdist is installed. The controller makes the run
id before it spawns workers (:mod:`chartest.cluster.sharing`), turns the
default ``--dist load`` into ``loadgroup`` and tells each worker so, and
deletes the run's kind cluster and local registry after the last worker is done.
"""

from __future__ import annotations

import pytest

from ..cluster import sharing
from .cluster_fixtures import WHOLE_CLUSTER_GROUP, delete_cluster_if_ours, delete_registry_if_ours, is_xdist_worker

__all__ = ["configure", "WHOLE_CLUSTER_GROUP"]


def configure(config) -> None:
    """Called from the plugin's ``pytest_configure``, before xdist spawns its workers."""
    config.addinivalue_line(
        "markers", "needs_whole_cluster: the test changes the cluster for everyone (drains a node, "
        "installs cluster-wide CRDs); under pytest-xdist all such tests run on one worker")
    if is_xdist_worker(config):
        # a worker parses the command line again, without the controller's switch: it is told
        config.option.loadgroup = config.workerinput.get("chartest_dist") == "loadgroup"
        return
    # a new run, even when a parent pytest's id is in the environment (chartest's self-tests run
    # pytest inside pytest): inheriting it, an inner run would own and delete the parent's cluster
    sharing.start_run()
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


def pytest_configure_node(node):
    """(controller) Tell each worker the distribution mode (see :func:`configure`)."""
    node.workerinput["chartest_dist"] = node.config.option.dist


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """(worker) Put each ``xdist_group`` name into the node id, where the loadgroup scheduler reads it.

    pytest-xdist 3.8 writes the suffix into ``item._nodeid``, which pytest 9.2's
    structured node ids no longer read, so groups are silently ignored
    (pytest-xdist issue #1386). Where xdist's own suffix did not take, set it here.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = f"@{'_'.join(names)}"
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(item.nodeid + suffix)


def pytest_sessionfinish(session):
    """(controller) Delete the run's kind cluster and local registry once every worker is done."""
    if not is_xdist_worker(session.config):
        delete_cluster_if_ours(session.config)
        delete_registry_if_ours(session.config)
