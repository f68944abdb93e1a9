"""Fixtures of the services tier: the real api, ws and www against real nats-server and FerretDB.

Everything runs locally as subprocesses (see :mod:`webhooks_testing.local_stack`); no mocks.
Tests here must not import this module (``tests/unit`` imports its own
``conftest`` by name); they use the fixtures.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import websocket

from webhooks_testing.local_stack import Stack

# small timeouts so that failure tests (database down) answer fast
STACK_ENV = {"MONGO_TIMEOUT_MS": "1000", "LOG_LEVEL": "INFO", "MAX_PAYLOAD_BYTES": "65536"}


@dataclass
class Client:
    """Thin helpers over requests / websocket-client bound to one stack."""

    stack: Stack

    @property
    def api(self) -> str:
        return self.stack.api.url

    def new_webhook(self) -> dict:
        resp = requests.get(f"{self.api}/wh", timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def post(self, token: str, payload, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.post(f"{self.api}/data", json=payload,
                             headers={"Authorization": f"Bearer {token}"}, **kwargs)

    def history(self, token: str, nbr: int | None = None) -> list[dict]:
        params = {"token": token} | ({"nbr": nbr} if nbr is not None else {})
        resp = requests.get(f"{self.api}/data", params=params, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def ws(self, token: str | None, path: str = "/ws", timeout: float = 5) -> websocket.WebSocket:
        url = f"ws://127.0.0.1:{self.stack.ws.port}{path}"
        if token is not None:
            url += f"?token={token}"
        return websocket.create_connection(url, timeout=timeout)

    def subscribe(self, token: str) -> websocket.WebSocket:
        sock = self.ws(token)
        hello = sock.recv()
        assert hello.startswith("webhook:"), hello
        return sock

    @staticmethod
    def status(url: str, timeout: float = 5) -> int:
        """The HTTP status of GET ``url``, 0 when nothing answers (a probe, never an exception)."""
        try:
            return requests.get(url, timeout=timeout).status_code
        except requests.RequestException:
            return 0

    @staticmethod
    def frame(sock: websocket.WebSocket) -> dict:
        return json.loads(sock.recv())

    def assert_round_trip(self, payload) -> None:
        """A new webhook's socket receives a payload posted to it: the whole path still works."""
        hook = self.new_webhook()
        sock = self.subscribe(hook["token"])
        try:
            assert self.post(hook["token"], payload).status_code == 201
            assert self.frame(sock)["content"] == payload
        finally:
            sock.close()

    @staticmethod
    def read_until_closed(sock: websocket.WebSocket, timeout: float = 10) -> tuple[list[str], int | None, str]:
        """Every text frame until the server closes the socket: (frames, close code, reason).

        The code is None when the socket stayed open for ``timeout`` seconds.
        """
        frames: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                opcode, data = sock.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                break
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return frames, 1006, ""
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                return frames, code, data[2:].decode("utf-8", "replace")
            if opcode == websocket.ABNF.OPCODE_TEXT:
                frames.append(data.decode("utf-8"))
        return frames, None, ""

    @staticmethod
    def peak_rss(server) -> int:
        """The highest resident set size (bytes) the server's process has had (VmHWM)."""
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) * 1024

    @staticmethod
    def rss(server) -> int:
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024

    @staticmethod
    def wait_for(predicate, timeout: float = 10, interval: float = 0.05, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One shared stack (nats, FerretDB, api, ws, www) for the non-destructive tests."""
    with Stack(tmp_path_factory.mktemp("stack"), extra_env=STACK_ENV) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack) -> Client:
    return Client(stack)


@pytest.fixture(scope="module")
def fragile_stack(tmp_path_factory):
    """A stack of its own for tests that stop nats or FerretDB (and restart them)."""
    with Stack(tmp_path_factory.mktemp("fragile"), extra_env={**STACK_ENV, "MONGO_TIMEOUT_MS": "500"}) as running:
        yield running


@pytest.fixture()
def fragile(fragile_stack) -> Client:
    """A client of the fragile stack; nats and FerretDB are running again after each test."""
    client = Client(fragile_stack)
    yield client
    for server in (fragile_stack.nats, fragile_stack.mongo):
        server.start()
    client.wait_for(lambda: client.status(f"{fragile_stack.api.url}/app/readyz") == 200
                    and client.status(f"{fragile_stack.ws.url}/readyz") == 200,
                    timeout=30, what="the fragile stack to be ready again")


@pytest.fixture(scope="session")
def chart_memory_limit():
    """The chart's memory limit of a service, in bytes (chart/values.yaml)."""
    import yaml

    values = yaml.safe_load((Path(__file__).resolve().parents[2] / "chart" / "values.yaml").read_text())
    units = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3}

    def limit(service: str) -> int:
        raw = str(values[service]["resources"]["limits"]["memory"])
        for suffix, factor in units.items():
            if raw.endswith(suffix):
                return int(float(raw[:-2]) * factor)
        return int(raw)
    return limit


@pytest.fixture(scope="session")
def fuzz_hook(client) -> dict:
    """One webhook that the property tests post into."""
    return client.new_webhook()


@pytest.fixture(scope="session")
def client_for():
    """Client for a stack of a test module's own (``client_for(stack)``)."""
    return Client
