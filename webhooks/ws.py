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

The process subscribes to NATS ``data.*`` once and keeps a map webhook name ->
set of clients. Every client has a bounded queue and its own sender task: a
client whose queue is full is dropped (closed with 1013) instead of slowing
the others down; a dead socket is removed without mutating a set while it is
being iterated.

HTTP on the same port: ``GET /healthz`` (liveness) and ``GET /readyz`` (NATS connected).
"""

from __future__ import annotations

import asyncio
import re
from contextlib import asynccontextmanager

from nats.aio.msg import Msg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import logs
from .bus import Bus
from .config import Settings
from .store import Store, StoreError

log = logs.get("webhooks.ws")

TOKEN_RE = re.compile(r"^[0-9a-f]{30}$")
SUBJECT = "data.*"
CLOSE_POLICY = 1008
CLOSE_ERROR = 1011
CLOSE_TRY_AGAIN = 1013


class Client:
    """One websocket: a bounded queue drained by its own sender task."""

    def __init__(self, websocket: WebSocket, name: str, queue_size: int):
        self.websocket = websocket
        self.name = name
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.task: asyncio.Task | None = None
        self.dropped = False

    def offer(self, frame: str) -> bool:
        """Queue a frame without waiting; False when the queue is full."""
        try:
            self.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            return False

    async def pump(self) -> None:
        while True:
            frame = await self.queue.get()
            await self.websocket.send_text(frame)


class Hub:
    """Webhook name -> the clients listening to it."""

    def __init__(self) -> None:
        self.clients: dict[str, set[Client]] = {}

    def add(self, client: Client) -> None:
        self.clients.setdefault(client.name, set()).add(client)

    def remove(self, client: Client) -> None:
        group = self.clients.get(client.name)
        if group is None:
            return
        group.discard(client)
        if not group:
            del self.clients[client.name]

    def count(self) -> int:
        return sum(len(g) for g in self.clients.values())

    def dispatch(self, name: str, frame: str) -> int:
        """Offer a frame to every client of ``name``; drops the ones that cannot keep up."""
        delivered = 0
        for client in tuple(self.clients.get(name, ())):  # a snapshot: removal is safe
            if client.offer(frame):
                delivered += 1
            else:
                self.drop(client)
        return delivered

    def drop(self, client: Client) -> None:
        self.remove(client)
        if client.dropped:
            return
        client.dropped = True
        log.warning("slow client dropped", webhook=client.name, queued=client.queue.qsize())
        if client.task is not None:
            client.task.cancel()
        asyncio.get_running_loop().create_task(_close_quietly(client.websocket, CLOSE_TRY_AGAIN))


async def _close_quietly(websocket: WebSocket, code: int) -> None:
    try:
        await websocket.close(code)
    except Exception:
        pass


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
    client = Client(websocket, name, app.state.settings.ws_queue_size)
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
    if request.app.state.bus.connected:
        return JSONResponse({"nats": "ok", "clients": request.app.state.hub.count()})
    return JSONResponse({"error": "not ready", "nats": "not connected"}, status_code=503)


async def root(request: Request) -> Response:
    return PlainTextResponse("webhooks ws: connect a websocket to /ws?token=<token>\n")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    hub = Hub()

    async def on_message(msg: Msg) -> None:
        name = msg.subject.split(".", 1)[1] if "." in msg.subject else ""
        try:
            frame = msg.data.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("non-UTF-8 message ignored", subject=msg.subject)
            return
        hub.dispatch(name, frame)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.store = Store(settings.mongodb_url, settings.mongo_timeout_ms)
        app.state.bus = Bus(settings.nats_servers, name="webhooks-ws")
        app.state.bus.subscribe(SUBJECT, on_message)
        await app.state.bus.start()
        log.info("ws started", subject=SUBJECT)
        try:
            yield
        finally:
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
