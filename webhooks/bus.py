"""NATS: one long-lived connection per process, reconnecting forever.

:class:`Bus` connects in the background (a down NATS at start is retried, not
fatal), keeps the subscriptions it was given across reconnects (nats-py
re-subscribes by itself), and refuses to publish while disconnected so that
callers know the message did not go out.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from . import logs

log = logs.get("webhooks.bus")

Handler = Callable[[Msg], Awaitable[None]]


class BusUnavailable(RuntimeError):
    """Not connected to NATS (yet, or at the moment)."""


class Bus:
    def __init__(self, servers: list[str], name: str = "webhooks"):
        self.servers = servers
        self.name = name
        self.nc: Client | None = None
        self._subs: list[tuple[str, Handler]] = []
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Register a subscription; made at (first) connect, kept across reconnects."""
        self._subs.append((subject, handler))

    async def start(self) -> None:
        """Connect in the background (retrying until NATS answers)."""
        self._task = asyncio.create_task(self._connect_loop(), name="nats-connect")

    async def _connect_loop(self) -> None:
        delay = 0.2
        while not self._closing:
            try:
                nc = await nats.connect(
                    servers=self.servers, name=self.name, allow_reconnect=True,
                    max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2,
                    ping_interval=10, max_outstanding_pings=2,
                    error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected, closed_cb=self._on_closed,
                )
            except Exception as exc:  # NoServersError, timeouts, refused
                log.warning("nats connect failed; retrying", servers=self.servers,
                            error=str(exc) or type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for subject, handler in self._subs:
                await nc.subscribe(subject, cb=handler, pending_msgs_limit=65536)
            self.nc = nc
            log.info("nats connected", url=str(nc.connected_url.netloc if nc.connected_url else ""))
            return

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error", error=str(exc) or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")

    async def _on_closed(self) -> None:
        if not self._closing:
            log.warning("nats connection closed")

    async def publish(self, subject: str, data: bytes) -> None:
        """Publish one message; :class:`BusUnavailable` when not connected."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise BusUnavailable("not connected to NATS")
        try:
            await nc.publish(subject, data)
        except Exception as exc:
            raise BusUnavailable(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.nc is not None:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=2)
            except Exception:
                try:
                    await self.nc.close()
                except Exception:
                    pass
