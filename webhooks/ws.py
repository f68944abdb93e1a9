"""The websocket fan-out service (port 8080).

Protocol (the dashboard, ``webhooks/static/app.js``, speaks it):

* connect to ``/ws?token=<token>`` (``/`` works too: the ingress forwards
  ``/ws`` unchanged);
* known token -> text frame ``webhook:<name>``, then one text frame per new
  payload of that webhook;
* unknown, missing or malformed token -> text frame ``error:token invalid``,
  then close with code 1008 (policy violation). Database unavailable ->
  ``error:service unavailable``, close 1011;
* each payload frame is ONE JSON encoding of ``{"content": <the JSON
  payload>, "created_at": "<ISO-8601>"}``: exactly the NATS message the api
  published on ``data.<name>``, forwarded as is (the original encoded it
  twice; this one does not);
* the client may send ``unsubscribe``: no more payload frames, the socket
  stays open until either side closes it;
* pings every ``WS_PING_INTERVAL`` seconds (20) keep proxies from idling the
  connection out.

The process subscribes to NATS ``data.*`` once and keeps a map webhook **id**
-> set of clients. The id is the webhook's random identity, carried in the
``Webhook-Id`` header of every message; names are reused after a webhook is
deleted, ids never are, so a socket can only ever receive its own webhook's
payloads. A message without the header is ignored.

Closing: ``webhooks.closed`` (published by the api on DELETE and on retention
expiry) closes that webhook's sockets with 1008 and the reason "webhook
deleted". Every ``WS_RESYNC_SECONDS`` ws also re-reads each subscribed
webhook from the database, so a lost announcement only delays the close.

Bounded memory (the stated policy): every client has a queue drained by its own
sender task (which waits for the socket's transport to drain). A frame that
would take a client's queue past ``WS_QUEUE_BYTES`` (or ``WS_QUEUE_SIZE``
frames), or the process's queues past ``WS_TOTAL_QUEUE_BYTES``, drops that
client: it is closed with 1013 (try again later) and the reason "too slow",
instead of slowing the others down or growing without limit. A single frame
larger than the per-client cap is still let through to an empty queue.

No payload lost (the stated delay: within 2 s of NATS being back, plus the
time to send): every payload frame carries its sequence number
(``Payload-Seq``). After NATS reconnects, after the api says ``webhooks.resync``
(it had publishes fail), and every ``WS_RESYNC_SECONDS``, ws reads each
subscribed webhook's current sequence number and sends each socket, from the
database, the payloads posted since it subscribed that it has not had yet
(at most the 1,000 newest). Each client remembers which sequence numbers it
was sent, so no payload is sent twice, whichever way it came.

HTTP on the same port: ``GET /healthz`` (liveness) and ``GET /readyz``:
ready only while NATS is connected (a socket could not receive otherwise)
and the database answers (a socket could not subscribe otherwise).
"""

from __future__ import annotations

import asyncio
import collections
import re
from contextlib import asynccontextmanager

from nats.aio.msg import Msg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import logs
from .bus import CLOSED_SUBJECT, DATA_SUBJECTS, HEADER_SEQ, HEADER_WEBHOOK_ID, RESYNC_SUBJECT, Bus
from .config import Settings
from .store import Store, StoreError, frame

log = logs.get("webhooks.ws")

TOKEN_RE = re.compile(r"^[0-9a-f]{30}$")
CLOSE_POLICY = 1008
CLOSE_ERROR = 1011
CLOSE_TRY_AGAIN = 1013
CATCH_UP_MAX = 1000       # payloads a resync may send one socket
SEEN_MAX = 4096           # sequence numbers a client remembers (the newest)


class Client:
    """One websocket: a queue bounded in frames and bytes, drained by its own sender task."""

    def __init__(self, websocket: WebSocket, webhook_id: str, queue_size: int = 256,
                 queue_bytes: int = 4 * 1024 * 1024, name: str = "", token_hash: str = "",
                 start_seq: int = 0):
        self.websocket = websocket
        self.webhook_id = webhook_id
        self.name = name
        self.token_hash = token_hash
        self.start_seq = start_seq      # payloads up to this one existed before the socket subscribed
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.frames: collections.deque[str] = collections.deque()
        self.bytes = 0
        self.ready = asyncio.Event()
        self.seen: set[int] = set()
        self.task: asyncio.Task | None = None
        self.dropped = False
        self.hub: Hub | None = None

    def already_sent(self, seq: int | None) -> bool:
        return seq is not None and (seq <= self.start_seq or seq in self.seen)

    def fits(self, size: int) -> bool:
        if not self.frames:
            return True
        return len(self.frames) < self.queue_size and self.bytes + size <= self.queue_bytes

    def push(self, text: str, seq: int | None = None) -> None:
        if seq is not None:
            self.seen.add(seq)
            if len(self.seen) > SEEN_MAX:  # forget the oldest half
                floor = sorted(self.seen)[len(self.seen) // 2]
                self.start_seq = max(self.start_seq, floor)
                self.seen = {s for s in self.seen if s > floor}
        self.frames.append(text)
        self.bytes += len(text)
        if self.hub is not None:
            self.hub.queued_bytes += len(text)
        self.ready.set()

    async def pump(self) -> None:
        while True:
            await self.ready.wait()
            while self.frames:
                text = self.frames[0]
                await self.websocket.send_text(text)
                self.frames.popleft()
                self.bytes -= len(text)
                if self.hub is not None:
                    self.hub.queued_bytes -= len(text)
            self.ready.clear()

    def discard_queue(self) -> None:
        if self.hub is not None:
            self.hub.queued_bytes -= self.bytes
        self.frames.clear()
        self.bytes = 0


class Hub:
    """Webhook id -> the clients listening to it, and the bytes queued for all of them."""

    def __init__(self, total_bytes: int = 32 * 1024 * 1024) -> None:
        self.clients: dict[str, set[Client]] = {}
        self.total_bytes = total_bytes
        self.queued_bytes = 0

    def add(self, client: Client) -> None:
        client.hub = self
        self.clients.setdefault(client.webhook_id, set()).add(client)

    def remove(self, client: Client) -> None:
        group = self.clients.get(client.webhook_id)
        if group is None:
            return
        group.discard(client)
        if not group:
            del self.clients[client.webhook_id]

    def count(self) -> int:
        return sum(len(g) for g in self.clients.values())

    def offer(self, client: Client, text: str, seq: int | None = None) -> bool:
        """Queue one frame for one client (once per seq); drops the client when it does not fit."""
        if client.dropped or client.already_sent(seq):
            return False
        size = len(text)
        if not client.fits(size) or (client.frames and self.queued_bytes + size > self.total_bytes):
            self.drop(client)
            return False
        client.push(text, seq)
        return True

    def dispatch(self, webhook_id: str, text: str, seq: int | None = None) -> int:
        """Offer a frame to every client of ``webhook_id``; drops the ones that cannot keep up."""
        delivered = 0
        for client in tuple(self.clients.get(webhook_id, ())):  # a snapshot: removal is safe
            if self.offer(client, text, seq):
                delivered += 1
        return delivered

    def drop(self, client: Client) -> None:
        self.remove(client)
        if client.dropped:
            return
        client.dropped = True
        log.warning("slow client dropped", webhook=client.name, queued_bytes=client.bytes,
                    queued_frames=len(client.frames))
        client.discard_queue()
        self._close(client, CLOSE_TRY_AGAIN, "too slow")

    def close_webhook(self, webhook_id: str, reason: str = "webhook deleted") -> int:
        """Close every socket of a webhook that no longer exists."""
        group = tuple(self.clients.pop(webhook_id, ()))
        for client in group:
            client.dropped = True
            client.discard_queue()
            self._close(client, CLOSE_POLICY, reason)
        if group:
            log.info("sockets of a deleted webhook closed", webhook=group[0].name, sockets=len(group))
        return len(group)

    @staticmethod
    def _close(client: Client, code: int, reason: str) -> None:
        if client.task is not None:
            client.task.cancel()
        asyncio.get_running_loop().create_task(_close_quietly(client.websocket, code, reason))


async def _close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    try:
        await websocket.close(code, reason)
    except TypeError:  # a socket without reasons
        try:
            await websocket.close(code)
        except Exception:
            pass
    except Exception:
        pass


async def catch_up(app: Starlette) -> None:
    """Re-read every subscribed webhook: close deleted ones, send what each socket missed."""
    hub: Hub = app.state.hub
    store: Store = app.state.store
    for webhook_id, group in list(hub.clients.items()):
        clients = [c for c in group if not c.dropped]
        if not clients:
            continue
        hook = await store.find_webhook_by_hash(clients[0].token_hash)
        if hook is None or hook.get("id") != webhook_id:
            hub.close_webhook(webhook_id)
            continue
        top = int(hook.get("seq") or 0)
        wanted = sorted({s for c in clients for s in range(max(c.start_seq, top - CATCH_UP_MAX) + 1, top + 1)
                         if not c.already_sent(s)})
        if not wanted:
            continue
        docs = await store.get_payloads(webhook_id, wanted)
        sent = 0
        for doc in docs:
            text = frame(doc["content"], doc["created_at"])
            for client in clients:
                sent += hub.offer(client, text, int(doc["seq"]))
        if sent:
            log.info("missed payloads sent from the database", webhook=hook["name"], frames=sent)


async def _catch_up_logged(app: Starlette, why: str) -> None:
    async with app.state.catch_up_lock:
        try:
            await catch_up(app)
        except Exception as exc:
            log.warning("resync failed", why=why, error=str(exc)[:300] or type(exc).__name__)


async def _periodic_catch_up(app: Starlette) -> None:
    while True:
        await asyncio.sleep(app.state.settings.ws_resync_seconds)
        await _catch_up_logged(app, "periodic")
async def ws_endpoint(websocket: WebSocket) -> None:
    try:
        await _serve(websocket)
    except (WebSocketDisconnect, RuntimeError, OSError) as exc:
        # the peer went away during the handshake frames: nothing to clean up
        log.debug("client gone early", error=str(exc) or type(exc).__name__)


async def _serve(websocket: WebSocket) -> None:
    app = websocket.app
    hub: Hub = app.state.hub
    await websocket.accept()
    token = websocket.query_params.get("token", "").strip()
    hook = None
    if TOKEN_RE.match(token):
        try:
            hook = await asyncio.wait_for(app.state.store.find_webhook(token), timeout=5)
        except (StoreError, asyncio.TimeoutError) as exc:
            log.error("token lookup failed", error=str(exc)[:300])
            await websocket.send_text("error:service unavailable")
            await _close_quietly(websocket, CLOSE_ERROR)
            return
    if hook is None:
        await websocket.send_text("error:token invalid")
        await _close_quietly(websocket, CLOSE_POLICY)
        return
    name = hook["name"]
    settings: Settings = app.state.settings
    client = Client(websocket, hook["id"], settings.ws_queue_size, settings.ws_queue_bytes,
                    name=name, token_hash=hook["_id"], start_seq=int(hook.get("seq") or 0))
    await websocket.send_text(f"webhook:{name}")
    hub.add(client)
    client.task = asyncio.create_task(client.pump(), name=f"ws-send-{name}")
    log.info("client subscribed", webhook=name, clients=hub.count())
    receiver = asyncio.create_task(_receive(websocket, hub, client))
    try:
        done, _pending = await asyncio.wait({receiver, client.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.remove(client)
        for task in (receiver, client.task):
            task.cancel()
        await asyncio.gather(receiver, client.task, return_exceptions=True)
        client.discard_queue()
        log.info("client gone", webhook=name, dropped=client.dropped, clients=hub.count())


async def _receive(websocket: WebSocket, hub: Hub, client: Client) -> None:
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = (message.get("text") or "").strip()
        if text == "unsubscribe":
            hub.remove(client)
            log.info("client unsubscribed", webhook=client.name)


async def healthz(request: Request) -> Response:
    return JSONResponse({})


async def readyz(request: Request) -> Response:
    checks = {"nats": "ok", "mongo": "ok"}
    if not request.app.state.bus.connected:
        checks["nats"] = "not connected"
    try:
        await asyncio.wait_for(request.app.state.store.ping(), timeout=2)
    except Exception as exc:
        checks["mongo"] = f"unavailable: {str(exc)[:200] or type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({**checks, "clients": request.app.state.hub.count()})
    return JSONResponse({"error": "not ready", **checks}, status_code=503)


async def root(request: Request) -> Response:
    return PlainTextResponse("webhooks ws: connect a websocket to /ws?token=<token>\n")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    hub = Hub(settings.ws_total_queue_bytes)

    async def on_message(msg: Msg) -> None:
        headers = msg.headers or {}
        webhook_id = headers.get(HEADER_WEBHOOK_ID)
        try:
            seq = int(headers.get(HEADER_SEQ, ""))
            text = msg.data.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            seq = text = None
        if not webhook_id or text is None:
            log.warning("message without webhook id or sequence ignored", subject=msg.subject)
            return
        hub.dispatch(webhook_id, text, seq)

    async def on_closed(msg: Msg) -> None:
        hub.close_webhook(msg.data.decode("utf-8", "replace").strip())

    async def on_resync(msg: Msg) -> None:
        asyncio.get_running_loop().create_task(_catch_up_logged(app, "api resync"))

    @asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.store = Store(settings.mongodb_url, settings.mongo_timeout_ms)
        app.state.catch_up_lock = asyncio.Lock()
        app.state.bus = Bus(settings.nats_servers, name="webhooks-ws",
                            user=settings.nats_user, password=settings.nats_password)
        app.state.bus.subscribe(DATA_SUBJECTS, on_message)
        app.state.bus.subscribe(CLOSED_SUBJECT, on_closed)
        app.state.bus.subscribe(RESYNC_SUBJECT, on_resync)
        app.state.bus.on_reconnect(lambda: _catch_up_logged(app, "nats reconnected"))
        await app.state.bus.start()
        periodic = asyncio.create_task(_periodic_catch_up(app), name="catch-up")
        log.info("ws started", subject=DATA_SUBJECTS)
        try:
            yield
        finally:
            periodic.cancel()
            await app.state.bus.close()
            await app.state.store.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/", root, methods=["GET"]),
            WebSocketRoute("/ws", ws_endpoint),
            WebSocketRoute("/", ws_endpoint),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hub = hub
    return app
