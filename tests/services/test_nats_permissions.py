"""The chart's NATS users on a real nats-server: no anonymous client, api only publishes, ws only listens.

The attack: any pod that reaches NATS reads every tenant's payloads (subscribe
``data.>``) or injects payloads into a tenant's sockets (publish ``data.<name>``).
nats-server runs here from the chart's own rendered ``nats.conf`` with the
passwords in its environment, as the chart's Deployment runs it.
"""

from __future__ import annotations

import asyncio

import nats
import pytest
import requests
from nats.errors import NoServersError

from webhooks_testing.local_stack import Server, free_port, nats_server_binary, start_ferretdb, start_service

# the api one is what nats-server reads as a number with a unit ("1E") when unquoted: a generated
# password of this shape once stopped NATS in e2e
PASSWORDS = {"NATS_API_PASSWORD": "1Ei5eYe57ktNhJzvZcdZo2sf64anlzTP", "NATS_WS_PASSWORD": "ws-secret-2"}
SECRET = {"api_password": PASSWORDS["NATS_API_PASSWORD"], "ws_password": PASSWORDS["NATS_WS_PASSWORD"]}


def _container_env(deployment) -> dict[str, str]:
    """The NATS container's environment as the kubelet makes it: Secret keys read, ``$(VAR)`` expanded."""
    env: dict[str, str] = {}
    for var in deployment.container("nats")["env"]:
        if "valueFrom" in var:
            env[var["name"]] = SECRET[var["valueFrom"]["secretKeyRef"]["key"]]
        else:
            value = var["value"]
            for name, known in env.items():
                value = value.replace(f"$({name})", known)
            env[var["name"]] = value
    return env


@pytest.fixture(scope="module")
def nats_with_users(render, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("nats-users")
    conf = workdir / "nats.conf"
    chart = render()
    conf.write_text(chart.get("ConfigMap", "nats-config")["data"]["nats.conf"])
    port = free_port()
    # flags after -c override the file's ports: a free one, loopback only, no monitor port
    server = Server("nats", [nats_server_binary(), "-c", conf, "-a", "127.0.0.1", "-p", str(port), "-m", "0"],
                    port, workdir / "nats.log", f"nats://127.0.0.1:{port}",
                    env=_container_env(chart.get("Deployment", "nats")))
    server.start()
    yield server
    server.stop()


async def _connect(url: str, errors: list, user: str | None = None, password: str | None = None):
    async def on_error(exc):
        errors.append(str(exc))

    auth = {"user": user, "password": password} if user else {}
    return await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=on_error, **auth)


def test_anonymous_and_wrong_password_are_refused(nats_with_users):
    async def scenario():
        for auth in ({}, {"user": "api", "password": "wrong"}, {"user": "ws", "password": PASSWORDS["NATS_API_PASSWORD"]}):
            errors: list[str] = []
            with pytest.raises((NoServersError, nats.errors.Error, OSError)):
                await _connect(nats_with_users.url, errors, **auth)
            assert any("authorization violation" in e.lower() for e in errors), (auth, errors)

    asyncio.run(scenario())


def test_api_publishes_ws_receives_and_neither_does_the_other_job(nats_with_users):
    async def scenario():
        api_errors: list[str] = []
        ws_errors: list[str] = []
        api = await _connect(nats_with_users.url, api_errors, "api", PASSWORDS["NATS_API_PASSWORD"])
        ws = await _connect(nats_with_users.url, ws_errors, "ws", PASSWORDS["NATS_WS_PASSWORD"])
        try:
            got_ws, got_api = [], []

            async def to_ws(msg):
                got_ws.append(msg)

            async def to_api(msg):
                got_api.append(msg)

            await ws.subscribe("data.*", cb=to_ws)
            await ws.subscribe("webhooks.closed", cb=to_ws)
            await api.subscribe("data.>", cb=to_api)   # api may not read payloads
            await ws.flush()
            await api.flush()
            await api.publish("data.some-tenant", b"payload")
            await api.publish("webhooks.closed", b"id")
            await api.publish("elsewhere.subject", b"no")                      # outside its subjects
            await ws.publish("data.some-tenant", b"forged")                    # ws may not publish
            await api.flush()
            await ws.flush()
            await asyncio.sleep(0.5)
            assert [(m.subject, m.data) for m in got_ws] == [("data.some-tenant", b"payload"),
                                                            ("webhooks.closed", b"id")]
            assert got_api == []
            assert any("permissions violation for subscription" in e.lower() for e in api_errors), api_errors
            assert any("permissions violation for publish to \"elsewhere.subject\"" in e.lower()
                       for e in api_errors), api_errors
            assert any("permissions violation for publish" in e.lower() for e in ws_errors), ws_errors
        finally:
            await api.close()
            await ws.close()

    asyncio.run(scenario())


def test_the_services_work_within_their_permissions(nats_with_users, client_for, tmp_path):
    """api and ws as the chart runs them (each its own NATS user): a payload reaches the socket,
    and a DELETE's announcement closes it -- every subject the services use is allowed."""
    from types import SimpleNamespace

    mongo = start_ferretdb(tmp_path)
    base = {"MONGODB_URL": mongo.url, "NATS_URL": nats_with_users.url}
    api = start_service("api", tmp_path, {**base, "NATS_USER": "api", "NATS_PASSWORD": PASSWORDS["NATS_API_PASSWORD"]},
                        ready_path="/app/readyz")
    ws = start_service("ws", tmp_path, {**base, "NATS_USER": "ws", "NATS_PASSWORD": PASSWORDS["NATS_WS_PASSWORD"]},
                       ready_path="/readyz")
    try:
        client = client_for(SimpleNamespace(api=api, ws=ws))
        client.assert_round_trip({"within": "permissions"})
        hook = client.new_webhook()
        sock = client.subscribe(hook["token"])
        assert requests.delete(f"{api.url}/wh", headers={"Authorization": f"Bearer {hook['token']}"},
                               timeout=10).status_code == 200
        _frames, code, _reason = client.read_until_closed(sock, timeout=10)
        assert code == 1008
        for log in (api.log(), ws.log()):
            assert "permissions violation" not in log.lower()
    finally:
        for server in (ws, api, mongo):
            server.stop()

