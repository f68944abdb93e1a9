"""helm upgrade (new tag, more replicas) keeps serving and keeps data; helm rollback works."""

import subprocess
import time
import uuid

import pytest
from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run

from webhooks_testing.deploy import split_tag
from webhooks_testing.traffic import Poster


def _deployment(kube_cluster, namespace, name):
    import pykube

    return pykube.Deployment.objects(kube_cluster.kube_client).filter(namespace=namespace).get(name=name)


@pytest.fixture
def retagged_api(app_images):
    """The api image under a second tag, pushed to the registry the cluster pulls from: an 'upgrade' to deploy."""
    repository, tag = split_tag(app_images["api"])
    new_tag = f"{tag}-next"
    subprocess.run(["docker", "tag", app_images["api"], f"{repository}:{new_tag}"], check=True)
    subprocess.run(["docker", "push", f"{repository}:{new_tag}"], check=True, capture_output=True)
    yield new_tag
    subprocess.run(["docker", "rmi", f"{repository}:{new_tag}"], capture_output=True)


def _secret_data(kube_api, namespace, name="mongo"):
    from kubernetes import client as k8s

    return k8s.CoreV1Api(kube_api).read_namespaced_secret(name, namespace).data


@pytest.mark.slow
def test_upgrade_then_rollback_keeps_serving_and_data(helm_release, app_images, release_values, kube_api,
                                                      make_webhooks_client, retagged_api, kube_cluster):
    from chartest import deep_merge

    domain = f"upgrade-{uuid.uuid4().hex[:6]}.webhooks.localhost"
    release = helm_release({"domain": domain})
    client = make_webhooks_client(domain)
    hook = client.create_webhook()
    for n in range(3):
        assert client.post_payload(hook.token, {"before": n}).status_code == 201

    secret_before = _secret_data(kube_api, release.namespace)
    nats_before = _secret_data(kube_api, release.namespace, "nats-credentials")
    assert secret_before["mongodb_url"] and secret_before["mongo_password"], "no generated mongo password"
    upgraded = deep_merge(release.values, {"api": {"tag": retagged_api, "replicas": 2}, "www": {"replicas": 2}})
    with Poster(client, hook.token, "during-upgrade", interval=0.2) as poster:
        release.upgrade(upgraded)
        wait_for_deployments_to_run(kube_cluster.kube_client, ["api", "www"], release.namespace, 120)
        time.sleep(2)
    api = _deployment(kube_cluster, release.namespace, "api")
    assert api.obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{retagged_api}")
    assert api.obj["status"]["readyReplicas"] == 2
    after = _secret_data(kube_api, release.namespace)
    assert after["mongo_password"] == secret_before["mongo_password"], "upgrade changed the mongo password"
    assert after == secret_before, "upgrade rewrote the MongoDB Secret"
    assert _secret_data(kube_api, release.namespace, "nats-credentials") == nats_before, \
        "upgrade changed the NATS passwords"
    assert poster.acknowledged, "no payload was accepted during the upgrade"
    assert not poster.failures, f"the app stopped serving during the upgrade: {poster.failures[:5]}"

    stored = {tuple(sorted(d["content"].items())) for d in client.data(hook.token, nbr=100)}
    for n in range(3):
        assert (("before", n),) in stored, "data stored before the upgrade was lost"
    for seq in poster.acknowledged:
        assert (("seq", seq), ("tag", "during-upgrade")) in stored

    release.rollback(1)
    wait_for_deployments_to_run(kube_cluster.kube_client, ["api", "www"], release.namespace, 120)
    api = _deployment(kube_cluster, release.namespace, "api")
    assert api.obj["spec"]["template"]["spec"]["containers"][0]["image"] == app_images["api"]
    assert api.obj["spec"]["replicas"] == 1
    assert [h["revision"] for h in release.history()] == [1, 2, 3]
    assert len(client.data(hook.token, nbr=100)) == 3 + len(poster.acknowledged)
    assert client.post_payload(hook.token, {"after": "rollback"}).status_code == 201
