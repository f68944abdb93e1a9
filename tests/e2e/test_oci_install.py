"""The chart as its users get it: `helm package`, `helm push` to the OCI registry the cluster
pulls from, `helm install oci://...` of that reference; the release must serve."""

from __future__ import annotations

import uuid

import pytest
import yaml

from chartest import package_chart, push_chart


@pytest.mark.slow
def test_install_from_the_oci_reference_serves(helm_release, local_registry, chartest_settings,
                                               make_webhooks_client, tmp_path):
    meta = yaml.safe_load((chartest_settings.chart / "Chart.yaml").read_text())
    archive = package_chart(chartest_settings.chart, tmp_path)
    assert archive.name == f"{meta['name']}-{meta['version']}.tgz"

    pushed = push_chart(archive, local_registry)
    assert pushed.ref == f"{local_registry.oci('charts')}/{meta['name']}"
    assert pushed.version == meta["version"] and pushed.digest.startswith("sha256:")
    assert meta["version"] in local_registry.tags(f"charts/{meta['name']}")

    domain = f"oci-{uuid.uuid4().hex[:6]}.webhooks.localhost"
    release = helm_release({"domain": domain}, chart=pushed.ref,
                           chart_flags=pushed.install_flags(local_registry))
    [revision] = release.history()
    assert revision["chart"] == f"{meta['name']}-{meta['version']}" and revision["status"] == "deployed"

    client = make_webhooks_client(domain)   # the release probe already saw api, www and ws routed
    hook = client.create_webhook()
    assert client.post_payload(hook.token, {"from": "oci"}).status_code == 201
    assert [d["content"] for d in client.data(hook.token)] == [{"from": "oci"}]
