"""NATS: one long-lived connection per process, reconnecting forever.

:class:`Bus` connects in the background (a down NATS at start is retried, not
fatal), keeps the subscriptions it was given across reconnects (nats-py
re-subscribes by itself), and refuses to publish while disconnected so that
callers know the message did not go out.

Callbacks given to :meth:`Bus.on_reconnect` run after every reconnection:
messages may have been lost while the connection was down, and the services
repair that from the database (see :mod:`webhooks.ws`, "No payload lost").
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

# subjects and headers shared by api (publisher) and ws (subscriber)
DATA_SUBJECTS = "data.*"            # data.<webhook name>: one payload frame
CLOSED_SUBJECT = "webhooks.closed"  # body: a deleted or expired webhook's id
RESYNC_SUBJECT = "webhooks.resync"  # publishes may have been lost: re-check from the database
HEADER_WEBHOOK_ID = "Webhook-Id"    # the webhook's never-reused identity
HEADER_SEQ = "Payload-Seq"          # the payload's sequence number within its webhook


class BusUnavailable(RuntimeError):
    """Not connected to NATS (yet, or at the moment)."""


class Bus:
    def __init__(self, servers: list[str], name: str = "webhooks", user: str = "", password: str = ""):
        self.servers = servers
        self.name = name
        # the service's own NATS user: the server grants it only the subjects its role needs
        self._auth = {"user": user, "password": password} if user else {}
        self.nc: Client | None = None
        self._subs: list[tuple[str, Handler]] = []
        self._reconnect_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Register a subscription; made at (first) connect, kept across reconnects."""
        self._subs.append((subject, handler))

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` after each reconnection (not after the first connect)."""
        self._reconnect_callbacks.append(callback)

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
                    **self._auth,
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
        for callback in self._reconnect_callbacks:
            asyncio.get_running_loop().create_task(self._run_callback(callback))

    async def _run_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        try:
            await callback()
        except Exception as exc:
            log.warning("reconnect callback failed", error=str(exc)[:300] or type(exc).__name__)

    async def _on_closed(self) -> None:
        if not self._closing:
            log.warning("nats connection closed")

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        """Publish one message; :class:`BusUnavailable` when not connected."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise BusUnavailable("not connected to NATS")
        try:
            await nc.publish(subject, data, headers=headers)
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
