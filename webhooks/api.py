"""The HTTP API (port 5000): webhooks, payloads, stats, health.

Routes and JSON shapes follow the contract (shared/docs/webhooks-app.md);
the OpenAPI description is :mod:`webhooks.openapi`, served at
``GET /docs/openapi.json``.

POST /data stores first, then publishes ``{"content": ..., "created_at": ...}``
(one JSON encoding) on NATS subject ``data.<webhook name>`` with the headers
``Webhook-Id`` (the webhook's never-reused identity) and ``Payload-Seq``:

* store failure -> 503 ``{"error": ...}``: nothing acknowledged is lost;
* publish failure -> still 201; the payload is stored and GET /data returns
  it, a warning is logged, and once NATS is back the api publishes
  ``webhooks.resync`` so that ws sends the missed payloads from the database.

Bounded memory: a body is counted against a per-process budget
(``PARSE_BUDGET_BYTES``; a body that cannot get budget within 2 s -> 503 with
``Retry-After``) before it is read; it must start like a JSON object or string
(anything else is refused before parsing); and its values are counted with a
linear scan before ``json.loads`` builds any object (more than
``MAX_JSON_VALUES`` -> 413). So no request builds a huge object graph.

DELETE /wh (and retention) publish the webhook's id on ``webhooks.closed``:
ws closes that webhook's sockets.
"""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import logs
from .bus import (CLOSED_SUBJECT, HEADER_SEQ, HEADER_WEBHOOK_ID, RESYNC_SUBJECT, Bus,
                  BusUnavailable)
from .config import Settings
from .openapi import spec as openapi_spec
from .store import Store, StoreError, encode_content, frame, iso, now

log = logs.get("webhooks.api")

TOKEN_RE = re.compile(r"^[0-9a-f]{30}$")
DEFAULT_NBR = 20
MAX_NBR = 100


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.headers = headers


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def raw_json(body: str, status: int = 200) -> Response:
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json")


# --- request helpers -------------------------------------------------------------

def token_of(request: Request) -> str | None:
    """The token from ``Authorization: Bearer <token>``, else from ``?token=``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    query = request.query_params.get("token", "").strip()
    return query or None


async def authenticate(request: Request) -> dict:
    """The webhook the request's token belongs to; ApiError 401/404 otherwise."""
    token = token_of(request)
    if token is None:
        raise ApiError(401, "authentication required")
    if not TOKEN_RE.match(token):
        raise ApiError(404, "not found")
    hook = await request.app.state.store.find_webhook(token)
    if hook is None:
        raise ApiError(404, "not found")
    return hook


def is_json_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than ``limit`` bytes, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
        if size > limit:
            raise ApiError(413, f"payload too large (limit {limit} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"payload too large (limit {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


class BodyBudget:
    """Bytes of request bodies being read and parsed at once in this process."""

    def __init__(self, capacity: int, wait_seconds: float = 2.0):
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.used = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, size: int):
        """Hold ``size`` bytes of budget (one body may always run alone); 503 if none frees up."""
        size = max(size, 1)
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(
                    lambda: self.used == 0 or self.used + size <= self.capacity), self.wait_seconds)
            except asyncio.TimeoutError:
                raise ApiError(503, "too many payloads being processed, retry later",
                               headers={"Retry-After": "1"}) from None
            self.used += size
        try:
            yield
        finally:
            async with self._changed:
                self.used -= size
                self._changed.notify_all()


_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)


def count_values(text: str, limit: int) -> int:
    """How many JSON values ``text`` holds (``[``, ``{`` and ``,`` outside strings), stopping past ``limit``.

    Linear, no objects built: strings are skipped with one possessive regex
    match each; an unterminated string ends the count (json.loads reports it).
    """
    count, pos, end_of_text = 0, 0, len(text)
    while True:
        quote = text.find('"', pos)
        end = end_of_text if quote < 0 else quote
        count += text.count("[", pos, end) + text.count("{", pos, end) + text.count(",", pos, end)
        if count > limit or quote < 0:
            return count
        match = _JSON_STRING.match(text, quote)
        if match is None:
            return count
        pos = match.end()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_payload(body: bytes, max_values: int = 20_000) -> tuple[Any, str]:
    """Validate a payload body; returns the value and its canonical JSON text."""
    if not body.strip():
        raise ApiError(400, "empty body: send a JSON object or a non-empty JSON string")
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads does
    except (UnicodeDecodeError, LookupError) as exc:
        raise ApiError(400, f"invalid JSON: {exc}") from None
    del body
    start = text.lstrip(" \t\r\n\ufeff")[:1]
    if start == "":
        raise ApiError(400, "empty body: send a JSON object or a non-empty JSON string")
    if start not in '{"':
        raise ApiError(400, "payload must be a JSON object or a non-empty JSON string")
    if count_values(text, max_values) > max_values:
        raise ApiError(413, f"payload too complex (limit {max_values} JSON values)")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(400, f"invalid JSON: {exc}") from None
    if isinstance(value, str):
        if value == "":
            raise ApiError(400, "payload must not be an empty string")
    elif not isinstance(value, dict):
        raise ApiError(400, "payload must be a JSON object or a non-empty JSON string")
    try:
        text = encode_content(value)
        text.encode("utf-8")
    except RecursionError:
        raise ApiError(400, "invalid JSON: nested too deeply") from None
    except UnicodeEncodeError:
        raise ApiError(400, "invalid JSON: lone surrogate in a string") from None
    return value, text


def parse_nbr(raw: str | None) -> int:
    try:
        nbr = int(raw) if raw is not None else DEFAULT_NBR
    except ValueError:
        return DEFAULT_NBR
    if nbr < 1:
        return DEFAULT_NBR
    return min(nbr, MAX_NBR)


# --- routes -------------------------------------------------------------------------

async def create_webhook(request: Request) -> Response:
    doc = await request.app.state.store.create_webhook()
    log.info("webhook created", webhook=doc["name"])
    return JSONResponse({"name": doc["name"], "token": doc["token"],
                         "created_at": iso(doc["created_at"])}, status_code=201)


async def announce_closed(app: Starlette, webhook_id: str) -> None:
    """Tell ws to close the sockets of a deleted or expired webhook."""
    try:
        await app.state.bus.publish(CLOSED_SUBJECT, webhook_id.encode())
    except BusUnavailable as exc:  # ws re-checks its sockets against the database periodically
        log.warning("webhook closed but not announced", error=str(exc))


async def delete_webhook(request: Request) -> Response:
    hook = await authenticate(request)
    gone = await request.app.state.store.delete_webhook(hook)
    if gone is None:
        raise ApiError(404, "not found")
    await announce_closed(request.app, gone["id"])
    log.info("webhook deleted", webhook=hook["name"])
    return JSONResponse({"info": f"webhook {hook['name']} deleted"})


async def webhook_info(request: Request) -> Response:
    hook = await authenticate(request)
    info = Store.info(hook)
    return JSONResponse({"info": {"name": hook["name"], "created_at": iso(hook["created_at"]), **info}})


async def post_data(request: Request) -> Response:
    hook = await authenticate(request)
    settings: Settings = request.app.state.settings
    if not is_json_type(request.headers.get("content-type")):
        raise ApiError(400, "Content-Type must be application/json")
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() and int(declared) <= settings.max_payload_bytes \
        else settings.max_payload_bytes
    async with request.app.state.body_budget.reserve(size):
        body = await read_limited(request, settings.max_payload_bytes)
        _value, text = parse_payload(body, settings.max_json_values)
        del body, _value
        created = now()
        name = hook["name"]
        seq = await request.app.state.store.insert_payload(hook, text, created)
        if seq is None:
            raise ApiError(404, "not found")  # deleted while this request was running
        message = frame(text, created).encode("utf-8")
        del text
    try:
        await request.app.state.bus.publish(
            f"data.{name}", message, headers={HEADER_WEBHOOK_ID: hook["id"], HEADER_SEQ: str(seq)})
    except BusUnavailable as exc:
        request.app.state.missed_publish = True
        log.warning("payload stored but not published", webhook=name, error=str(exc))
    return JSONResponse({"info": "payload saved"}, status_code=201)


async def get_data(request: Request) -> Response:
    hook = await authenticate(request)
    nbr = parse_nbr(request.query_params.get("nbr"))
    docs = await request.app.state.store.list_payloads(hook, nbr, raw=True)
    items = ",".join('{"content":%s,"created_at":%s}' % (d["content"], json.dumps(d["created_at"]))
                     for d in docs)
    return raw_json('{"webhook":%s,"data":[%s]}' % (json.dumps(hook["name"]), items))


async def stats(request: Request) -> Response:
    return JSONResponse({"stats": await request.app.state.store.stats()})


async def healthz(request: Request) -> Response:
    return JSONResponse({})


async def readyz(request: Request) -> Response:
    """Ready while storage works: without NATS a POST is still stored (and replayed by ws
    after the broker is back), so a NATS outage is reported here but takes no api out of service."""
    checks = {"mongo": "ok", "nats": "ok" if request.app.state.bus.connected else "not connected"}
    try:
        await asyncio.wait_for(request.app.state.store.ping(), timeout=2)
    except Exception as exc:
        checks["mongo"] = f"unavailable: {str(exc)[:200] or type(exc).__name__}"
        return error(503, "not ready", **checks)
    return JSONResponse(checks)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_spec())


# --- errors -------------------------------------------------------------------------

async def on_api_error(request: Request, exc: ApiError) -> Response:
    response = error(exc.status, exc.message)
    response.headers.update(exc.headers or {})
    return response


async def on_http_exception(request: Request, exc: HTTPException) -> Response:
    message = {404: "not found", 405: "incorrect method"}.get(exc.status_code, exc.detail or "error")
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def on_store_error(request: Request, exc: StoreError) -> Response:
    log.error("storage unavailable", path=request.url.path, error=str(exc)[:500])
    return error(503, "storage unavailable, try again later")


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", path=request.url.path)
    return error(500, "internal error")


def by_method(no_head: bool = False, **handlers):
    """One endpoint per path dispatching on the method (so 405 carries a full Allow)."""
    async def endpoint(request: Request) -> Response:
        method = request.method
        if method == "HEAD" and not no_head:
            method = "GET"
        handler = handlers.get(method)
        if handler is None:
            raise HTTPException(405, headers={"Allow": ", ".join(handlers)})
        return await handler(request)
    return endpoint


# --- app ----------------------------------------------------------------------------

async def _maintenance(app: Starlette) -> None:
    """Create the indexes (retrying until the database answers), then enforce retention
    and delete the payloads of deleted webhooks in batches."""
    settings: Settings = app.state.settings
    store: Store = app.state.store
    retention = timedelta(days=settings.retention_days)
    while True:
        try:
            await store.ensure_indexes()
            break
        except Exception as exc:
            log.warning("cannot create indexes yet; retrying", error=str(exc)[:300])
            await asyncio.sleep(2)
    while True:
        try:
            expired = await store.expire(retention)
            for gone in expired:
                await announce_closed(app, gone["id"])
            purged = 0
            while batch := await store.purge_deleted():  # a backlog is worked off now, budget by budget
                purged += batch
            if expired or purged:
                log.info("retention cleanup", webhooks=len(expired), payloads=purged,
                         retention_days=settings.retention_days)
        except Exception as exc:
            log.warning("retention cleanup failed", error=str(exc)[:300])
        await asyncio.sleep(settings.cleanup_interval_seconds)


async def _resync_after_missed_publishes(app: Starlette) -> None:
    """Once NATS is back after a failed publish, ask ws to fetch what it missed from the store."""
    while True:
        await asyncio.sleep(0.5)
        if app.state.missed_publish and app.state.bus.connected:
            app.state.missed_publish = False
            await _publish_resync(app)


async def _publish_resync(app: Starlette) -> None:
    try:
        await app.state.bus.publish(RESYNC_SUBJECT, b"{}")
        log.info("asked ws to resync from the database")
    except BusUnavailable:
        app.state.missed_publish = True


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.store = Store(settings.mongodb_url, settings.mongo_timeout_ms, settings.wordlist_size)
        app.state.bus = Bus(settings.nats_servers, name="webhooks-api",
                            user=settings.nats_user, password=settings.nats_password)
        app.state.bus.on_reconnect(lambda: _publish_resync(app))
        app.state.body_budget = BodyBudget(settings.parse_budget_bytes)
        app.state.missed_publish = False
        await app.state.bus.start()
        task = asyncio.create_task(_maintenance(app), name="maintenance")
        resync = asyncio.create_task(_resync_after_missed_publishes(app), name="resync")
        log.info("api started", max_payload_bytes=settings.max_payload_bytes,
                 retention_days=settings.retention_days)
        try:
            yield
        finally:
            task.cancel()
            resync.cancel()
            await app.state.bus.close()
            await app.state.store.close()

    routes = [
        Route("/wh", by_method(GET=create_webhook, DELETE=delete_webhook, no_head=True),
              methods=["GET", "DELETE"]),
        Route("/wh/info", webhook_info, methods=["GET"]),
        Route("/data", by_method(GET=get_data, POST=post_data), methods=["GET", "POST"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/app/healthz", healthz, methods=["GET"]),
        Route("/app/readyz", readyz, methods=["GET"]),
        Route("/docs/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                               allow_headers=["*"], max_age=600)],
        exception_handlers={
            ApiError: on_api_error,
            HTTPException: on_http_exception,
            StoreError: on_store_error,
            Exception: on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
