"""The e2e tier against a cluster the session did not create, as a user runs it on their own:

    pytest tests/e2e --kubeconfig K --ingress-url U --image-registry R

A second kind cluster of three nodes stands in for the user's (made outside that session, with Traefik
installed and the registry connected by "its admin": webhooks_testing.existing_cluster);
the whole e2e tier runs against it in a pytest of its own, which must pass with nothing
skipped, and must leave the cluster as it found it: the same namespaces, helm releases,
CRDs and cluster-wide RBAC, the same node containers (nothing recreated), no kind cluster
created, and no image on a node that did not come from the registry (no
`kind load`). The stand-in is deleted afterwards if this test created it.

Its name and port: $WEBHOOKS_EXISTING_CLUSTER (default `<cluster_name>-existing`) and
$WEBHOOKS_EXISTING_HTTP_PORT (default the `http_port` setting + 2: + 1 is the 1+2 cluster's), so
runs side by side with their own cluster name and port do not collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chartest import unavailable, visible

REPO = Path(__file__).resolve().parents[2]
# the settings the inner session must get from its command line only
SESSION_ENV = ("CHARTEST_CLUSTER", "CHARTEST_HTTP_PORT", "CHARTEST_KUBECONFIG", "CHARTEST_INGRESS_URL",
               "CHARTEST_IMAGE_REGISTRY", "CHARTEST_KEEP_CLUSTER", "CHARTEST_NODE_IMAGE", "KUBECONFIG",
               "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")


def junit_counts(path: Path) -> dict[str, int]:
    """tests, failed, skipped and xfailed (a known issue the tier marks so; junit files it under skipped)."""
    counts = dict.fromkeys(("tests", "failed", "skipped", "xfailed"), 0)
    for case in ET.parse(path).getroot().iter("testcase"):
        counts["tests"] += 1
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        elif skipped is not None:
            counts["xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"] += 1
    return counts


@pytest.fixture(scope="module")
def existing_cluster(request, oci_registry, chartest_settings, tmp_path_factory):
    """The stand-in cluster, prepared by "its admin", as the session gets it (a kubeconfig file and the
    ingress URL); deleted afterwards if this fixture created it."""
    from webhooks_testing import existing_cluster as admin

    if not oci_registry.container:
        unavailable("the stand-in cluster needs the local registry (no --image-registry in this outer session)")
    name = os.environ.get("WEBHOOKS_EXISTING_CLUSTER", f"{chartest_settings.cluster_name}-existing")
    http_port = int(os.environ.get("WEBHOOKS_EXISTING_HTTP_PORT", chartest_settings.http_port + 2))
    kubeconfig = tmp_path_factory.mktemp("handed-over") / "kubeconfig"
    created = name not in admin.kind_clusters()   # a stand-in kept from an earlier run is reused and kept
    try:
        try:
            with visible(request.config):
                cluster = admin.prepare(name, http_port, oci_registry, kubeconfig)
        except Exception as exc:  # noqa: BLE001
            unavailable(f"cannot prepare the stand-in cluster {name}: {exc}")
        yield cluster
    finally:
        if created and not chartest_settings.keep_cluster:
            with visible(request.config):
                admin.delete(name)


@pytest.mark.e2e
@pytest.mark.slow
def test_e2e_tier_passes_on_a_cluster_the_session_did_not_create_and_leaves_it_as_found(
        existing_cluster, oci_registry, chartest_settings, request):
    from webhooks_testing import existing_cluster as admin

    before = admin.snapshot(existing_cluster, existing_cluster.name)
    assert "namespace/traefik" in before.namespaces and before.crds, "the admin's Traefik is missing"
    artifacts = Path(chartest_settings.artifacts) / "existing-cluster"
    artifacts.mkdir(parents=True, exist_ok=True)
    junit, log = artifacts / "junit.xml", artifacts / "pytest.log"
    argv = [sys.executable, "-m", "pytest", "tests/e2e", "--kubeconfig", str(existing_cluster.kubeconfig),
            "--ingress-url", existing_cluster.ingress_url, "--image-registry", oci_registry.host,
            "-p", "no:cacheprovider", f"--junitxml={junit}", "-q", "-rfEs"]
    env = {k: v for k, v in os.environ.items() if k not in SESSION_ENV}
    env["CHARTEST_CLUSTER"] = "must-not-be-created"   # the inner session may create no kind cluster
    started = time.monotonic()
    with visible(request.config):
        print(f"      inner session: {' '.join(argv[1:])} (log: {log})", flush=True)
    with log.open("w") as out:
        code = subprocess.run(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=45 * 60).returncode
    elapsed = time.monotonic() - started
    tail = "\n".join(log.read_text().splitlines()[-40:])
    counts = junit_counts(junit) if junit.is_file() else {}
    with visible(request.config):
        print(f"      inner session: exit {code} in {elapsed:.0f}s, {counts}", flush=True)

    after = admin.wait_left_as_found(existing_cluster, existing_cluster.name, before)
    assert code == 0, f"the e2e tier failed on the existing cluster (exit {code}, {counts}):\n{tail}"
    assert counts["tests"] > 0 and counts["failed"] == 0 and counts["skipped"] == 0, f"{counts}\n{tail}"
    changed = admin.differences(before, after)
    assert not changed, "the session did not leave the cluster as it found it:\n" + "\n".join(changed)
    assert not admin.loaded_not_pulled(before, after, oci_registry), \
        f"images reached the nodes other than by a pull from {oci_registry.host}"
    pulled = {i for images in after.node_images.values() for i in images}
    assert any(i.startswith(f"{oci_registry.host}/webhooks/api:") for i in pulled), \
        f"the nodes hold no app image from {oci_registry.host}: {sorted(pulled)}"
    assert "must-not-be-created" not in admin.kind_clusters(), "the inner session created a kind cluster"
