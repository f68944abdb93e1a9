"""Inside the cluster, mongo and NATS admit only the chart's users.

A pod in the release's namespace (labelled like the api, so the NetworkPolicies
would let it through where a CNI enforces them: what is tested here is the
credentials, not the policies) tries the database and the broker without and
with the generated credentials, which it gets from the release's Secrets.
It runs from the api image (python, pymongo, nats-py) and is never Ready, so
the api Service never routes to it.
"""

import json
import time
import uuid

from kubernetes import client as k8s

PROBE = r'''
import asyncio, json, os
import nats
from pymongo import MongoClient
from pymongo.errors import OperationFailure

out = {}

def read(url):
    try:
        MongoClient(url, serverSelectionTimeoutMS=10000).get_default_database().webhooks.find_one({})
        return "read"
    except OperationFailure as exc:
        return exc.code

out["mongo_anonymous"] = read("mongodb://mongo:27017/webhooks")
out["mongo_wrong_password"] = read("mongodb://webhooks:wrong@mongo:27017/webhooks?authSource=admin")
out["mongo_user"] = read(os.environ["MONGODB_URL"])

async def broker():
    errors = []
    async def on_error(exc):
        errors.append(str(exc).lower())
    try:
        nc = await nats.connect("nats://nats:4222", allow_reconnect=False, connect_timeout=5, error_cb=on_error)
        await nc.close()
        out["nats_anonymous"] = "connected"
    except Exception:
        out["nats_anonymous"] = "refused" if any("authorization violation" in e for e in errors) else errors
    errors.clear()
    nc = await nats.connect("nats://nats:4222", user="api", password=os.environ["NATS_API_PASSWORD"],
                            allow_reconnect=False, connect_timeout=5, error_cb=on_error)
    async def got(msg):
        out.setdefault("api_read", []).append(msg.subject)
    await nc.subscribe("data.>", cb=got)
    await nc.flush()
    await asyncio.sleep(2)
    out["api_subscribe"] = "refused" if any("permissions violation" in e for e in errors) else errors
    await nc.close()

asyncio.run(broker())
print("RESULT " + json.dumps(out))
'''


def _secret_env(name, secret, key):
    return k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(
        secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key)))


def test_database_and_broker_refuse_everyone_but_the_chart_users(webhooks_app, app_images, kube_api):
    core = k8s.CoreV1Api(kube_api)
    namespace = webhooks_app.namespace
    name = f"credential-probe-{uuid.uuid4().hex[:6]}"
    restricted = k8s.V1SecurityContext(
        allow_privilege_escalation=False, run_as_non_root=True, run_as_user=10001,
        capabilities=k8s.V1Capabilities(drop=["ALL"]), seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"))
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, labels={
            "app.kubernetes.io/name": "webhooks", "app.kubernetes.io/instance": webhooks_app.name,
            "app.kubernetes.io/component": "api"}),
        spec=k8s.V1PodSpec(restart_policy="Never", automount_service_account_token=False, containers=[
            k8s.V1Container(
                name="probe", image=app_images["api"], image_pull_policy="IfNotPresent",
                command=["python3", "-c", PROBE], security_context=restricted,
                env=[_secret_env("MONGODB_URL", "mongo", "mongodb_url"),
                     _secret_env("NATS_API_PASSWORD", "nats-credentials", "api_password")],
                readiness_probe=k8s.V1Probe(_exec=k8s.V1ExecAction(command=["python3", "-c", "raise SystemExit(1)"]),
                                            period_seconds=60))]))
    core.create_namespaced_pod(namespace, pod)
    try:
        deadline = time.monotonic() + 180
        phase = None
        while time.monotonic() < deadline:
            phase = core.read_namespaced_pod(name, namespace).status.phase
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(2)
        logs = core.read_namespaced_pod_log(name, namespace)
        assert phase == "Succeeded", f"probe pod {phase}:\n{logs}"
        [line] = [line for line in logs.splitlines() if line.startswith("RESULT ")]
        result = json.loads(line[len("RESULT "):])
    finally:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    print(f"credential probe: {result}")
    assert result["mongo_anonymous"] in (13, 18), result          # Unauthorized / AuthenticationFailed
    assert result["mongo_wrong_password"] == 18, result
    assert result["mongo_user"] == "read", result
    assert result["nats_anonymous"] == "refused", result
    assert result["api_subscribe"] == "refused" and "api_read" not in result, result
