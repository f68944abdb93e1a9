"""The cluster layer's own integration test: the smoke check every later test relies on."""

import pytest

from chartest import pins as versions
from webhooks_testing import smoke


@pytest.mark.cluster
def test_node_is_ready_at_the_pinned_version(kind_cluster):
    out = kind_cluster.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.status.nodeInfo.kubeletVersion} "
                               "{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}")
    lines = out.split("\n")
    lines = [line for line in lines if line.strip()]
    assert lines, "the cluster has no nodes"
    for line in lines:
        version, ready = line.split()
        assert ready == "True"
        if kind_cluster.kind:  # the local node image, or the pinned kindest/node
            pinned = {versions.get("kubernetes.version"), versions.get("node.kindest_node").split("@")[0].split(":")[1]}
            assert version in pinned
        else:
            assert version.startswith("v1.")


@pytest.mark.cluster
def test_smoke_local_image_dns_and_service_ip(kind_cluster, request):
    """kind: the image is `kind load`ed; any other cluster: pushed to the registry its nodes pull from."""
    registry = None if kind_cluster.kind else request.getfixturevalue("local_registry")
    result = smoke.run_smoke(kind_cluster, registry)
    assert f"resolved {result.service_ip}" in result.client_log
    assert "answered" in result.client_log
    expected = "chartest/smoke:" if registry is None else registry.ref("chartest/smoke:")
    assert result.image.startswith(expected)
    assert ("kind load" in result.timings) == (registry is None)
