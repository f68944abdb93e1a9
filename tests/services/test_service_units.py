"""In-process pieces that the black-box tests cannot reach: slow-client dropping, config, names."""

from __future__ import annotations

import asyncio
import re

import pytest

from webhooks import words
from webhooks.api import parse_nbr
from webhooks.config import Settings
from webhooks.store import iso, new_token, now
from webhooks.ws import Client, Hub


class FakeSocket:
    """A websocket whose sends block until released (a client that stopped reading)."""

    def __init__(self, stalled: bool = False):
        self.sent: list[str] = []
        self.closed: int | None = None
        self.reason = ""
        self.release = asyncio.Event()
        if not stalled:
            self.release.set()

    async def send_text(self, text: str) -> None:
        await self.release.wait()
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code
        self.reason = reason


def test_slow_client_is_dropped_without_blocking_others():
    async def scenario():
        hub = Hub()
        slow_sock, fast_sock = FakeSocket(stalled=True), FakeSocket()
        slow, fast = Client(slow_sock, "hook", queue_size=3), Client(fast_sock, "hook", queue_size=3)
        for c in (slow, fast):
            hub.add(c)
            c.task = asyncio.create_task(c.pump())
        for i in range(10):
            hub.dispatch("hook", f"frame-{i}")
            await asyncio.sleep(0)  # let the fast sender drain
        await asyncio.sleep(0.01)
        assert fast_sock.sent == [f"frame-{i}" for i in range(10)]
        assert slow.dropped and slow not in hub.clients.get("hook", set())
        assert slow_sock.closed == 1013
        assert hub.count() == 1
        fast.task.cancel()
        assert hub.queued_bytes == 0  # the dropped client's queue was released

    asyncio.run(scenario())


def test_queue_is_capped_in_bytes_and_frames_are_sent_once():
    async def scenario():
        hub = Hub(total_bytes=10_000)
        slow = Client(FakeSocket(stalled=True), "hook", queue_size=1000, queue_bytes=2500)
        hub.add(slow)
        big = "x" * 1000
        assert hub.dispatch("hook", big, seq=1) == 1
        assert hub.dispatch("hook", big, seq=1) == 0          # the same payload again: not queued twice
        assert hub.dispatch("hook", big, seq=2) == 1
        assert hub.queued_bytes == 2000
        assert hub.dispatch("hook", big, seq=3) == 0          # 3000 bytes > 2500: dropped
        assert slow.dropped and hub.queued_bytes == 0
        await asyncio.sleep(0)
        assert slow.websocket.closed == 1013
        # one frame larger than the per-client cap still goes to an empty queue
        roomy = Client(FakeSocket(stalled=True), "other", queue_bytes=10)
        hub.add(roomy)
        assert hub.offer(roomy, big, 1) and not roomy.dropped
        # the process-wide cap drops the client whose frame would exceed it
        many = [Client(FakeSocket(stalled=True), f"h{i}", queue_bytes=5000) for i in range(6)]
        for c in many:
            hub.add(c)
            hub.offer(c, big, 1)
            hub.offer(c, big, 2)
        assert hub.queued_bytes <= 10_000
        assert any(c.dropped for c in many)

    asyncio.run(scenario())


def test_dispatch_to_unknown_webhook_and_removal_during_dispatch():
    async def scenario():
        hub = Hub()
        assert hub.dispatch("nobody", "x") == 0
        clients = [Client(FakeSocket(stalled=True), "h", queue_size=1) for _ in range(5)]
        for c in clients:
            hub.add(c)
        assert hub.dispatch("h", "first") == 5
        assert hub.dispatch("h", "second") == 0   # every queue full: all dropped, safely
        assert hub.clients == {}
        hub.remove(clients[0])                     # removing twice is harmless
        await asyncio.sleep(0)

    asyncio.run(scenario())


@pytest.mark.parametrize("raw,expected", [(None, 20), ("5", 5), ("100", 100), ("101", 100), ("abc", 20),
                                          ("0", 20), ("-1", 20), ("", 20), ("1e3", 20)])
def test_parse_nbr(raw, expected):
    assert parse_nbr(raw) == expected


def test_settings_from_env():
    s = Settings.from_env({})
    assert s.mongodb_url == "mongodb://mongo:27017/webhooks"
    assert s.nats_url == "nats://nats:4222"
    assert s.max_payload_bytes == 1048576
    assert (s.port_for("api"), s.port_for("ws"), s.port_for("www")) == (5000, 8080, 3000)
    s = Settings.from_env({"PORT": "9000", "LOG_LEVEL": "warn", "NATS_URL": "nats://a:1, nats://b:2"})
    assert s.port_for("api") == 9000 and s.log_level == "WARNING"
    assert s.nats_servers == ["nats://a:1", "nats://b:2"]
    with pytest.raises(ValueError):
        Settings.from_env({"MAX_PAYLOAD_BYTES": "-1"})


def test_names_and_tokens():
    assert re.fullmatch(r"[0-9a-f]{30}", new_token())
    names = {words.slug() for _ in range(200)}
    assert len(names) > 190
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-[a-z]+", n) for n in names)
    stamp = iso(now())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp)
