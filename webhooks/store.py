"""MongoDB storage of webhooks and payloads (pymongo's asyncio API).

Collections of the database named in ``MONGODB_URL``:

* ``webhooks``: ``{name, token, created_at}``; unique indexes on ``token`` and ``name``.
* ``payloads``: ``{webhook: <name>, content, created_at}``; index on
  ``(webhook, created_at)``. ``content`` is stored as its JSON text (one
  canonical encoding) rather than as a BSON sub-document: arbitrary JSON
  (keys with ``$`` or ``.``, NUL in keys, integers beyond 64 bits, deep
  nesting) would not all survive BSON, and every accepted payload must be
  stored and given back unchanged. Readers get the decoded value back.

``created_at`` is a BSON date (UTC, millisecond precision); the API renders
it as ISO-8601 with offset.

Retention: documents older than ``RETENTION_DAYS`` are deleted. MongoDB
would do it with a TTL index, but FerretDB (the offline stand-in) answers
``expireAfterSeconds`` with NotImplemented, so :meth:`Store.ensure_indexes`
tries the TTL indexes and the api always runs :meth:`Store.cleanup`
periodically as well (idempotent; harmless where TTL works).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from . import logs, words

log = logs.get("webhooks.store")

StoreError = PyMongoError  # every failure of the database surfaces as this


def now() -> datetime:
    """The current UTC time at the millisecond precision BSON dates keep."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t: datetime) -> str:
    """ISO-8601 with offset, milliseconds: ``2025-01-31T12:00:00.123+00:00``."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def new_token() -> str:
    """30 hex characters from the OS CSPRNG."""
    return secrets.token_hex(15)


def encode_content(content: Any) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


class Store:
    def __init__(self, url: str, timeout_ms: int = 3000):
        self.client = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms, socketTimeoutMS=max(timeout_ms, 10_000),
            appname="webhooks",
        )
        self.db = self.client.get_default_database("webhooks")
        self.webhooks = self.db["webhooks"]
        self.payloads = self.db["payloads"]
        self.ttl_supported: bool | None = None

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        await self.db.command("ping")

    async def ensure_indexes(self, retention_seconds: int) -> None:
        await self.webhooks.create_index([("token", ASCENDING)], unique=True, name="token_unique")
        await self.webhooks.create_index([("name", ASCENDING)], unique=True, name="name_unique")
        await self.payloads.create_index(
            [("webhook", ASCENDING), ("created_at", DESCENDING)], name="webhook_created_at")
        try:
            await self.webhooks.create_index([("created_at", ASCENDING)], name="ttl",
                                             expireAfterSeconds=retention_seconds)
            await self.payloads.create_index([("created_at", ASCENDING)], name="ttl",
                                             expireAfterSeconds=retention_seconds)
            self.ttl_supported = True
        except OperationFailure as exc:
            # FerretDB: NotImplemented. An existing TTL index with another expiry:
            # IndexOptionsConflict. Either way the periodic cleanup enforces retention.
            self.ttl_supported = False
            log.info("ttl index unavailable; periodic cleanup enforces retention", reason=str(exc))

    # --- webhooks -----------------------------------------------------------------

    async def create_webhook(self) -> dict:
        """Insert a new webhook with a fresh name and token; returns the document."""
        for _attempt in range(10):
            doc = {"name": words.slug(), "token": new_token(), "created_at": now()}
            try:
                await self.webhooks.insert_one(doc)
            except DuplicateKeyError:
                continue  # name (or, astronomically unlikely, token) taken: draw again
            doc.pop("_id", None)
            return doc
        raise RuntimeError("could not find a free webhook name")

    async def find_webhook(self, token: str) -> dict | None:
        return await self.webhooks.find_one({"token": token}, {"_id": 0})

    async def delete_webhook(self, name: str) -> None:
        await self.payloads.delete_many({"webhook": name})
        await self.webhooks.delete_one({"name": name})

    async def webhook_info(self, name: str) -> dict:
        count = await self.payloads.count_documents({"webhook": name})
        last = await self.payloads.find_one(
            {"webhook": name}, {"created_at": 1}, sort=[("created_at", DESCENDING)])
        return {"payload_nbr": count, "last_payload_date": iso(last["created_at"]) if last else "N/A"}

    # --- payloads -----------------------------------------------------------------

    async def insert_payload(self, name: str, content: Any, created_at: datetime) -> None:
        await self.payloads.insert_one(
            {"webhook": name, "content": encode_content(content), "created_at": created_at})

    async def list_payloads(self, name: str, limit: int, raw: bool = False) -> list[dict]:
        """The newest ``limit`` payloads, newest first: ``[{content, created_at}]``.

        With ``raw`` the content is left as its stored JSON text.
        """
        cursor = self.payloads.find({"webhook": name}, {"_id": 0, "content": 1, "created_at": 1},
                                    sort=[("created_at", DESCENDING), ("_id", DESCENDING)],
                                    limit=limit)
        out = []
        async for doc in cursor:
            content = doc.get("content")
            if not isinstance(content, str):  # written by someone else as a document
                content = json.dumps(content, default=str)
            if not raw:
                content = json.loads(content)
            out.append({"content": content, "created_at": iso(doc["created_at"])})
        return out

    async def stats(self) -> dict:
        return {
            "number_of_webhooks": await self.webhooks.count_documents({}),
            "number_of_payloads_received": await self.payloads.count_documents({}),
        }

    # --- retention ----------------------------------------------------------------

    async def cleanup(self, retention: timedelta) -> dict:
        """Delete webhooks (with all their payloads) and payloads older than ``retention``."""
        cutoff = now() - retention
        expired = [d["name"] async for d in self.webhooks.find(
            {"created_at": {"$lt": cutoff}}, {"name": 1, "_id": 0})]
        removed_hooks = removed_payloads = 0
        for name in expired:
            removed_payloads += (await self.payloads.delete_many({"webhook": name})).deleted_count
            removed_hooks += (await self.webhooks.delete_one({"name": name})).deleted_count
        removed_payloads += (await self.payloads.delete_many(
            {"created_at": {"$lt": cutoff}})).deleted_count
        return {"webhooks": removed_hooks, "payloads": removed_payloads}
