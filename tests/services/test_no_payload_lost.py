"""No acknowledged payload lost on the live path: the NATS fault drill of issue 11.

500 payloads are posted over ~10 s to a webhook with a connected websocket;
nats-server is killed (SIGKILL) 3 s in and started again at 6 s. Every payload
that got a 2xx must reach the socket exactly once, at most ``DELIVERY_DELAY``
seconds after the last post. While NATS is down ws reports not ready; the api
keeps accepting (storage works).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from webhooks_testing.local_stack import Stack

POSTS = 500
POST_INTERVAL = 0.02          # ~10 s of posting
KILL_AT, RESTART_AT = 3.0, 6.0
DELIVERY_DELAY = 10.0         # the stated bound, after the last post


@pytest.fixture(scope="module")
def drill_stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("nats-drill"), extra_env={"MONGO_TIMEOUT_MS": "2000"}) as running:
        yield running


def test_nats_killed_mid_stream_loses_and_duplicates_nothing(drill_stack, client_for):
    stack, client = drill_stack, client_for(drill_stack)
    hook = client.new_webhook()
    sock = client.subscribe(hook["token"])
    received: list[int] = []
    stop = threading.Event()

    def read() -> None:
        sock.settimeout(0.5)
        while not stop.is_set():
            try:
                text = sock.recv()
            except Exception as exc:  # timeouts while idle; anything else ends the reader
                if "timed out" in str(exc):
                    continue
                return
            received.append(json.loads(text)["content"]["i"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    acknowledged: list[int] = []
    ws_ready_while_down = []
    api_session = requests.Session()
    started = time.monotonic()
    killed = restarted = False
    try:
        for i in range(POSTS):
            elapsed = time.monotonic() - started
            if not killed and elapsed >= KILL_AT:
                stack.nats.stop(kill=True)
                killed = True
            if killed and not restarted and elapsed >= (KILL_AT + RESTART_AT) / 2 and not ws_ready_while_down:
                ws_ready_while_down.append(client.status(f"{stack.ws.url}/readyz", timeout=2))
            if killed and not restarted and elapsed >= RESTART_AT:
                stack.nats.start()
                restarted = True
            resp = api_session.post(f"{client.api}/data", json={"i": i}, timeout=10,
                                    headers={"Authorization": f"Bearer {hook['token']}"})
            if 200 <= resp.status_code < 300:
                acknowledged.append(i)
            time.sleep(max(0.0, started + (i + 1) * POST_INTERVAL - time.monotonic()))
        assert killed and restarted, "the posting ended before the fault window"
        last_post = time.monotonic()
        client.wait_for(lambda: set(received) >= set(acknowledged), timeout=DELIVERY_DELAY,
                        what=f"every acknowledged payload on the socket ({len(set(received))} "
                             f"of {len(acknowledged)} so far)")
        delay = time.monotonic() - last_post
        time.sleep(1.0)  # late duplicates would show up now
    finally:
        stop.set()
        reader.join(timeout=5)
        sock.close()
    print(f"{len(acknowledged)}/{POSTS} acknowledged, all delivered {delay:.1f}s after the last post")
    assert len(acknowledged) == POSTS                 # storage worked: the api kept accepting
    assert ws_ready_while_down == [503]               # ws said it could not receive
    duplicates = sorted({i for i in received if received.count(i) > 1})
    assert not duplicates, f"delivered twice: {duplicates[:20]}"
    assert set(received) == set(acknowledged)
