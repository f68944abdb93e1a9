"""Cluster tier of hello-chart: a real release on a kind (or given) cluster, no ingress controller.

The image comes from the chart's values; a project that cannot pull it overrides
the ``release_values`` fixture (see chartest's README).
"""

import json


def test_release_serves_the_greeting(helm_release):
    release = helm_release({"greeting": "Hello from a real cluster", "podDisruptionBudget": {"enabled": True}})
    # helm_release returned: every workload rolled out and the Service has ready endpoints
    service = next(d for d in release.manifest() if d["kind"] == "Service")["metadata"]["name"]
    page = release.cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{release.namespace}/services/{service}:http/proxy/")
    assert "<p>Hello from a real cluster</p>" in page
    greeting = json.loads(release.cluster.kubectl("-n", release.namespace, "get", "greeting", service,
                                                  "-o", "json"))
    assert greeting["spec"]["servedBy"] == service
    pdb = json.loads(release.cluster.kubectl("-n", release.namespace, "get", "pdb", service, "-o", "json"))
    assert pdb["status"]["currentHealthy"] >= 1
