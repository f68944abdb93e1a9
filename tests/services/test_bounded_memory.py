"""Memory bounded by design: the two attacks of issue 11, on a stack with the chart's defaults.

* api: 30 concurrent 1 MiB bodies of nested empty lists (bare, and wrapped in an
  object so that they pass the "must be an object" rule) -> every answer a 4xx
  JSON error, and the api's peak RSS (VmHWM) stays under the chart's memory limit.
* ws: a websocket that never reads while 1 MB payloads are posted to its
  webhook -> the client is dropped (1013 "too slow") and the ws process's peak
  RSS stays under the chart's limit.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket

from webhooks_testing.local_stack import Stack

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def roomy(tmp_path_factory):
    """A stack with the app's default limits (1 MiB bodies), unlike the shared one."""
    with Stack(tmp_path_factory.mktemp("memory"), extra_env={"MONGO_TIMEOUT_MS": "2000"}) as running:
        yield running


def _nested_lists(size: int, wrap: bool) -> bytes:
    head, tail = (b'{"a":[', b"[]]}") if wrap else (b"[", b"[]]")
    count = (size - len(head) - len(tail)) // 3
    return head + b"[]," * count + tail


def _post(url: str, token: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def test_nested_list_bodies_stay_under_the_api_limit(roomy, client_for, chart_memory_limit):
    client = client_for(roomy)
    limit = chart_memory_limit("api")
    hook = client.new_webhook()
    bodies = [_nested_lists(MIB, wrap=i % 2 == 1) for i in range(30)]
    assert all(len(b) <= MIB for b in bodies)
    started = time.monotonic()
    for _round in range(2):
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(lambda b: _post(f"{client.api}/data", hook["token"], b), bodies))
        assert {r.status_code for r in answers} <= {400, 413, 429, 503}, [r.status_code for r in answers]
        assert all(isinstance(r.json()["error"], str) for r in answers)
        assert any(r.status_code == 413 for r in answers)      # the wrapped ones: too many values
    assert time.monotonic() - started < 60
    peak = client.peak_rss(roomy.api)
    print(f"api peak RSS {peak / MIB:.0f} MiB (chart limit {limit / MIB:.0f} MiB)")
    assert peak < limit
    assert client.history(hook["token"]) == []                  # nothing of it was stored
    assert client.post(hook["token"], {"still": "serving"}).status_code == 201


def test_slow_websocket_reader_stays_under_the_ws_limit(roomy, client_for, chart_memory_limit):
    client = client_for(roomy)
    limit = chart_memory_limit("ws")
    hook = client.new_webhook()
    # a reader that stopped reading: a tiny receive buffer, and no recv() until the end
    slow = websocket.create_connection(f"ws://127.0.0.1:{roomy.ws.port}/ws?token={hook['token']}",
                                       timeout=10, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    payload = "x" * 1_000_000                                    # 1 MB, under NATS's 1 MiB message cap
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _i: client.post(hook["token"], payload, timeout=60), range(120)))
        assert all(r.status_code == 201 for r in answers)
        client.wait_for(lambda: "slow client dropped" in roomy.ws.log(), timeout=20,
                        what="ws to drop the client that does not read")
        peak = client.peak_rss(roomy.ws)
        print(f"ws peak RSS {peak / MIB:.0f} MiB (chart limit {limit / MIB:.0f} MiB)")
        assert peak < limit
        # 1013 "too slow" when the close frame gets through the full buffers, else the
        # connection is cut (1006) once the close handshake times out: closed either way
        _frames, code, reason = client.read_until_closed(slow, timeout=30)
        assert (code, reason) in {(1013, "too slow"), (1006, "")}
    finally:
        slow.close()
    client.assert_round_trip({"others": "unaffected"})
