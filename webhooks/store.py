"""MongoDB storage of webhooks and payloads (pymongo's asyncio API).

Every hot path is a point read or write by ``_id``: FerretDB's SQLite backend
(the offline stand-in for MongoDB) pushes only ``{_id: <value>}`` filters down
to SQLite (and uses its ``_id`` index only with the build's patch, see
``webhooks_testing.local_stack.FERRETDB_PATCHES``) and scans the whole table for
anything else -- ``_id: {$in: [...]}`` included --, and on MongoDB ``_id`` is the
one index that always exists. So the schema is keyed for it:

* ``webhooks``: ``{_id: sha256(token), id, name, created_at, seq,
  last_payload_at}``. The token itself is never stored; a lookup hashes the
  presented token. ``id`` is a random 128-bit identity that is never reused
  (names are: they are drawn from ~690,000 combinations), so live delivery is
  keyed by ``id``. ``seq`` counts the webhook's payloads. Unique index on ``name``.
* ``payloads`` holds two kinds of documents, both keyed by ``_id``:

  - a payload of its own: ``{_id: "<webhook id>:<seq, 12 digits>", webhook: <name>,
    webhook_id, seq, content, created_at}``. Every POST writes one (an insert: atomic
    on FerretDB too, and a duplicate ``seq`` is caught by the unique ``_id``).
  - a bucket: ``{_id: "<webhook id>:b<n, 10 digits>", webhook_id, created_at, packed,
    singles: [seq] (only if any)}`` holding the payloads ``n*BUCKET_SIZE+1 ..
    (n+1)*BUCKET_SIZE``; ``packed`` is one JSON text ``[[seq, created_at in epoch ms,
    content text], ...]``, zlib-compressed (BSON binary). FerretDB decodes its stored
    JSON (and a type schema) value by value and byte by byte, so a bucket has as few
    values and bytes as possible: one string costs it about half of ten sub-documents,
    and compressed binary (a third of the bytes for JSON payloads) 0.8 ms a read
    instead of 1.35. Once a bucket's range is complete, it is *sealed* in the
    background: its payloads are read, written as one bucket document (an insert, so of
    two sealers one wins), then their own documents are deleted. A payload over
    ``BUCKET_ITEM_BYTES``, or past ``BUCKET_BYTES`` in its bucket, stays a document of
    its own and is listed in ``singles``; a ``seq`` of the range in neither ``packed``
    nor ``singles`` is a gap (a sequence number that was never stored).

  ``GET /data?nbr=N`` computes the N newest ``seq`` from the webhook's ``seq`` and
  reads their buckets, then the payloads not in a bucket, as concurrent point reads:
  at most ``N/BUCKET_SIZE + BUCKET_SIZE + 1`` reads instead of N. Payloads written
  before buckets existed are documents of their own: they are read the same way, and
  a read of a complete, unsealed range seals it (so an upgraded database converts
  itself as it is read). ``content`` is the payload's canonical JSON text (arbitrary
  JSON -- ``$``/``.`` keys, huge integers, deep nesting -- would not all survive
  BSON). Index on ``(webhook_id, created_at)`` for MongoDB-side queries; the token
  lookup is the ``_id`` index of ``webhooks`` (the token's hash), retention's
  ``created_at`` query has an index of its own.
* ``counters``: ``{_id: "totals", webhooks, payloads}`` kept with ``$inc``, so
  ``/stats`` reads one document instead of counting collections.
* ``deleted_webhooks``: ``{_id: <webhook id>, upto: <seq>, done: <seq>,
  deleted_at}``: a DELETE (or retention) removes the webhook document at once
  (its payloads become unreachable), and the payloads are deleted afterwards in
  batches of up to ``DELETE_BATCH`` ids (each payload's own and its bucket's), one
  bulk write of point deletes each (resumable: ``done`` records progress).

``created_at`` is a BSON date (UTC, millisecond precision); the API renders it
as ISO-8601 with offset. Retention: webhooks older than ``RETENTION_DAYS`` are
deleted with their payloads (payloads are never older than their webhook).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, DeleteOne, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError, PyMongoError

from . import logs, words

log = logs.get("webhooks.store")

StoreError = PyMongoError  # every failure of the database surfaces as this

TOTALS = "totals"
DELETE_BATCH = 1000         # payload ids removed by one bulk write (one point delete each)
READ_PARALLEL = 16          # point reads of one get_payloads call in flight at once
EXPIRE_BATCH = 200          # expired webhooks whose counters and purge records are written together
DELETE_GRACE = timedelta(seconds=30)  # let in-flight inserts of a deleted webhook land first
BUCKET_SIZE = 10                     # payloads per bucket document (see the module docstring)
BUCKET_ITEM_BYTES = 64 * 1024        # a payload whose packed entry is larger stays a document of its own
BUCKET_BYTES = 512 * 1024            # packed text per bucket at most, before compression (BSON's: 16 MB)
SEAL_GRACE = DELETE_GRACE            # a range with a missing seq is sealed without it after this
SEAL_PARALLEL = 2                    # background seals of one process running at once
SEAL_QUEUE = 1000                    # seals waiting at most; more are left to a later read
REPAIR_QUEUE = 4                     # seals asked for by reads (ranges found unsealed) waiting at most,
                                     # run one at a time: an upgraded database converts gradually
LEGACY_INDEXES = ("token_unique", "ttl", "webhook_created_at")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


def token_hash(token: str) -> str:
    """What the database keeps instead of the token (and looks it up by)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def payload_id(webhook_id: str, seq: int) -> str:
    return f"{webhook_id}:{seq:012d}"


def bucket_of(seq: int) -> int:
    """The bucket a payload's sequence number belongs to."""
    return (seq - 1) // BUCKET_SIZE


def bucket_id(webhook_id: str, bucket: int) -> str:
    return f"{webhook_id}:b{bucket:010d}"


def bucket_seqs(bucket: int) -> range:
    return range(bucket * BUCKET_SIZE + 1, (bucket + 1) * BUCKET_SIZE + 1)


def bucket_document(webhook_id: str, bucket: int, payloads: list[dict]) -> tuple[dict, list[int]]:
    """The bucket document of these payloads (``{seq, content, created_at}``, one bucket's);
    also the seqs it holds. Large payloads, and those past the byte bound, are left out
    and listed in ``singles`` (they stay documents of their own)."""
    packed, held, singles, size = [], [], [], 2
    for doc in sorted(payloads, key=lambda d: d["seq"]):
        seq, text = int(doc["seq"]), doc["content"]
        item = json.dumps([seq, epoch_ms(doc["created_at"]), text], ensure_ascii=False) \
            if isinstance(text, str) else None
        length = len(item.encode("utf-8")) + 1 if item is not None else None
        if length is None or length > BUCKET_ITEM_BYTES or size + length > BUCKET_BYTES:
            singles.append(seq)
            continue
        size += length
        packed.append(item)
        held.append(seq)
    first = min((d["created_at"] for d in payloads), default=now())
    text = "[" + ",".join(packed) + "]"
    document = {"_id": bucket_id(webhook_id, bucket), "webhook_id": webhook_id, "created_at": first,
                "packed": Binary(zlib.compress(text.encode("utf-8"), 1))}
    if singles:
        document["singles"] = singles
    return document, held


def unpack(bucket: dict) -> list[dict]:
    """A bucket's payloads as ``{seq, content, created_at}``."""
    packed = bucket.get("packed") or b"[]"
    if isinstance(packed, bytes):
        packed = zlib.decompress(packed)
    return [{"seq": seq, "content": text, "created_at": EPOCH + timedelta(milliseconds=ms)}
            for seq, ms, text in json.loads(packed)]


def epoch_ms(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (t - EPOCH) // timedelta(milliseconds=1)


def encode_content(content: Any) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def frame(content_text: str, created_at: datetime) -> str:
    """The one JSON encoding of a payload on NATS and on the websocket."""
    return '{"content":%s,"created_at":%s}' % (content_text, json.dumps(iso(created_at)))


class Store:
    def __init__(self, url: str, timeout_ms: int = 3000, wordlist_size: int = 0):
        self.client = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms, socketTimeoutMS=max(timeout_ms, 10_000),
            appname="webhooks",
        )
        self.db = self.client.get_default_database("webhooks")
        self.webhooks = self.db["webhooks"]
        self.payloads = self.db["payloads"]
        self.counters = self.db["counters"]
        self.graveyard = self.db["deleted_webhooks"]
        self.wordlist_size = wordlist_size
        # FerretDB's findAndModify $inc is not atomic: writers of one webhook in this
        # process take turns (striped locks); other replicas' rare collisions are retried
        self._seq_locks = [asyncio.Lock() for _ in range(64)]
        self._seal_gate = asyncio.Semaphore(SEAL_PARALLEL)
        self._repair_gate = asyncio.Semaphore(1)
        self._repairs = 0
        self._sealing: set[tuple[str, int]] = set()        # (webhook id, bucket) scheduled
        self._not_before: dict[tuple[str, int], float] = {}  # buckets that could not be sealed: retry after
        self._background: set[asyncio.Task] = set()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.client.close()

    async def settle(self) -> None:
        """Wait for the background seals scheduled so far (tests, benches)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def ping(self) -> None:
        await self.db.command("ping")

    async def ensure_indexes(self) -> None:
        for coll in (self.webhooks, self.payloads):
            existing = [ix["name"] async for ix in await coll.list_indexes()]
            for name in LEGACY_INDEXES:  # an older schema's: a unique token index would collide
                if name in existing:
                    await coll.drop_index(name)
                    log.info("dropped legacy index", collection=coll.name, index=name)
        await self.webhooks.create_index([("name", ASCENDING)], unique=True, name="name_unique")
        await self.webhooks.create_index([("created_at", ASCENDING)], name="created_at")  # retention
        await self.payloads.create_index(
            [("webhook_id", ASCENDING), ("created_at", DESCENDING)], name="webhook_id_created_at")

    async def _count(self, **deltas: int) -> None:
        await self.counters.update_one({"_id": TOTALS}, {"$inc": deltas}, upsert=True)

    # --- webhooks -----------------------------------------------------------------

    async def create_webhook(self) -> dict:
        """Insert a new webhook with a fresh name and token; returns it with the token."""
        for _attempt in range(20):
            token = new_token()
            doc = {"_id": token_hash(token), "id": uuid.uuid4().hex,
                   "name": words.slug(self.wordlist_size), "created_at": now(),
                   "seq": 0, "last_payload_at": None}
            try:
                await self.webhooks.insert_one(doc)
            except DuplicateKeyError:
                continue  # name taken: draw again
            await self._count(webhooks=1)
            return {**doc, "token": token}
        raise RuntimeError("could not find a free webhook name")

    async def find_webhook(self, token: str) -> dict | None:
        return await self.find_webhook_by_hash(token_hash(token))

    async def find_webhook_by_hash(self, hashed: str) -> dict | None:
        return await self.webhooks.find_one({"_id": hashed})

    async def delete_webhook(self, hook: dict) -> dict | None:
        """Remove the webhook now, its payloads in the background; the removed document."""
        gone = await self.webhooks.find_one_and_delete({"_id": hook["_id"]})
        if gone is None:
            return None
        seq = int(gone.get("seq") or 0)
        await self._count(webhooks=-1, payloads=-seq)
        await self.graveyard.update_one(
            {"_id": gone["id"]}, {"$set": {"upto": seq, "deleted_at": now()},
                                  "$setOnInsert": {"done": 0}}, upsert=True)
        return gone

    @staticmethod
    def info(hook: dict) -> dict:
        last = hook.get("last_payload_at")
        return {"payload_nbr": int(hook.get("seq") or 0), "last_payload_date": iso(last) if last else "N/A"}

    # --- payloads -----------------------------------------------------------------

    async def insert_payload(self, hook: dict, content_text: str, created_at: datetime) -> int | None:
        """Store one payload; its sequence number, or None when the webhook is gone."""
        async with self._seq_locks[hash(hook["id"]) % len(self._seq_locks)]:
            return await self._insert_payload(hook, content_text, created_at)

    async def _insert_payload(self, hook: dict, content_text: str, created_at: datetime) -> int | None:
        for attempt in range(10):
            if attempt:
                await asyncio.sleep(random.uniform(0.001, 0.02) * attempt)
            doc = await self.webhooks.find_one_and_update(
                {"_id": hook["_id"]}, {"$inc": {"seq": 1}, "$set": {"last_payload_at": created_at}},
                return_document=ReturnDocument.AFTER)
            if doc is None:
                return None
            seq = int(doc["seq"])
            try:
                await self.payloads.insert_one({
                    "_id": payload_id(hook["id"], seq), "webhook": hook["name"], "webhook_id": hook["id"],
                    "seq": seq, "content": content_text, "created_at": created_at})
            except DuplicateKeyError:
                continue  # a concurrent insert drew the same seq (non-atomic $inc): draw again
            await self._count(payloads=1)
            if seq % BUCKET_SIZE == 0:  # its bucket's range is complete
                self.schedule_seal(hook["id"], bucket_of(seq))
            return seq
        raise RuntimeError("could not allocate a payload sequence number")

    async def get_payloads(self, webhook_id: str, seqs: list[int]) -> list[dict]:
        """The payloads ``{seq, content, created_at}`` with these sequence numbers, in the
        given order; missing ones skipped.

        Point reads by ``_id``, up to ``READ_PARALLEL`` in flight: first the buckets, then
        the payloads no bucket holds. An ``_id $in`` query would be one round trip, but
        FerretDB does not push ``$in`` down and scans the whole payloads table (1.2 s at
        20,000 payloads), while a point read is an index lookup there and on MongoDB.
        """
        found, _unsealed = await self._read(webhook_id, seqs)
        return [found[seq] for seq in seqs if seq in found]

    async def _read(self, webhook_id: str, seqs: list[int]) -> tuple[dict[int, dict], list[int]]:
        """The payloads found by seq, and the buckets of ``seqs`` that are not sealed."""
        gate = asyncio.Semaphore(READ_PARALLEL)

        async def point(key: str, projection: dict | None = None) -> dict | None:
            async with gate:
                return await self.payloads.find_one({"_id": key}, projection)

        async def read_buckets(numbers: list[int]) -> dict[int, dict | None]:
            docs = await asyncio.gather(*(point(bucket_id(webhook_id, n)) for n in numbers))
            return dict(zip(numbers, docs))

        wanted = set(seqs)
        found: dict[int, dict] = {}

        def take(bucket: dict | None) -> None:
            for item in unpack(bucket) if bucket else ():
                if item["seq"] in wanted:
                    found[item["seq"]] = item

        buckets = await read_buckets(sorted({bucket_of(seq) for seq in wanted}))
        for bucket in buckets.values():
            take(bucket)
        own = [seq for seq in seqs if seq not in found and (
            buckets[bucket_of(seq)] is None or seq in buckets[bucket_of(seq)].get("singles", ()))]
        docs = await asyncio.gather(*(point(payload_id(webhook_id, seq), {"content": 1, "created_at": 1, "seq": 1})
                                      for seq in own))
        found.update((int(doc["seq"]), doc) for doc in docs if doc is not None)
        # a bucket sealed between the two reads: its payloads moved into it
        moved = sorted({bucket_of(seq) for seq in own if seq not in found and buckets[bucket_of(seq)] is None})
        if moved:
            again = await read_buckets(moved)
            for number, bucket in again.items():
                take(bucket)
                buckets[number] = bucket
        return found, [number for number, bucket in buckets.items() if bucket is None]

    async def list_payloads(self, hook: dict, limit: int, raw: bool = False) -> list[dict]:
        """The newest ``limit`` payloads, newest first: ``[{content, created_at}]``.

        With ``raw`` the content is left as its stored JSON text. Complete ranges found
        unsealed (payloads written before buckets, or a seal that did not run) are sealed
        in the background.
        """
        top = int(hook.get("seq") or 0)
        seqs = list(range(top, max(0, top - limit), -1))
        found, unsealed = await self._read(hook["id"], seqs)
        for number in unsealed:
            if bucket_seqs(number)[-1] <= top:
                self.schedule_seal(hook["id"], number, repair=True)
        out = []
        for doc in (found[seq] for seq in seqs if seq in found):
            content = doc.get("content")
            if not isinstance(content, str):  # written by someone else as a document
                content = json.dumps(content, default=str)
            if not raw:
                content = json.loads(content)
            out.append({"content": content, "created_at": iso(doc["created_at"])})
        return out

    # --- buckets --------------------------------------------------------------------

    def schedule_seal(self, webhook_id: str, bucket: int, repair: bool = False) -> None:
        """Seal this bucket (and the one before, if a straggler kept it open) in the background.

        ``repair``: asked for by a read that found the range unsealed (mostly payloads of the
        previous layout); such seals wait in a short queue of their own and run one at a time,
        so that reading an upgraded database does not turn into a burst of seals."""
        key = (webhook_id, bucket)
        loop = asyncio.get_running_loop()
        if key in self._sealing or self._not_before.get(key, 0.0) > loop.time() or len(self._sealing) >= SEAL_QUEUE \
                or (repair and self._repairs >= REPAIR_QUEUE):
            return
        self._not_before.pop(key, None)
        self._sealing.add(key)
        self._repairs += repair
        task = loop.create_task(self._seal_logged(webhook_id, bucket, self._repair_gate if repair else self._seal_gate))
        self._background.add(task)

        def done(t: asyncio.Task) -> None:
            self._background.discard(t)
            self._sealing.discard(key)
            self._repairs -= repair
        task.add_done_callback(done)

    async def _seal_logged(self, webhook_id: str, bucket: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                for number in (bucket, bucket - 1) if bucket > 0 else (bucket,):
                    if not await self.seal_bucket(webhook_id, number) and len(self._not_before) < 10_000:
                        # a payload of it may be in flight: reads do not retry it before the grace
                        self._not_before[(webhook_id, number)] = \
                            asyncio.get_running_loop().time() + SEAL_GRACE.total_seconds()
            except PyMongoError as exc:
                log.warning("bucket not sealed", bucket=bucket_id(webhook_id, bucket), error=str(exc)[:300])

    async def seal_bucket(self, webhook_id: str, bucket: int) -> bool:
        """Move the payloads of a complete range into one bucket document; whether it is sealed.

        The bucket is inserted before the payloads' own documents are deleted, and only the
        sealer whose insert succeeded deletes them, so a payload is always in one of the two
        places (a reader that misses both re-reads the bucket). A range with a missing seq
        waits ``SEAL_GRACE`` (an insert of another replica may be in flight), then is sealed
        without it.
        """
        key = bucket_id(webhook_id, bucket)
        if await self.payloads.find_one({"_id": key}, {"_id": 1}) is not None:
            return True
        gate = asyncio.Semaphore(READ_PARALLEL)

        async def point(seq: int) -> dict | None:
            async with gate:
                return await self.payloads.find_one({"_id": payload_id(webhook_id, seq)})

        docs = [d for d in await asyncio.gather(*(point(seq) for seq in bucket_seqs(bucket))) if d is not None]
        if not docs or len(docs) < BUCKET_SIZE and max(d["created_at"] for d in docs) > now() - SEAL_GRACE:
            # nothing to seal yet, or another sealer is moving these payloads right now
            return await self.payloads.find_one({"_id": key}, {"_id": 1}) is not None
        document, held = bucket_document(webhook_id, bucket, docs)
        try:
            await self.payloads.insert_one(document)
        except DuplicateKeyError:
            return True  # another sealer's: it deletes the payloads it holds
        if held:
            await self.payloads.bulk_write([DeleteOne({"_id": payload_id(webhook_id, seq)}) for seq in held],
                                           ordered=False)
        return True

    async def stats(self) -> dict:
        doc = await self.counters.find_one({"_id": TOTALS}) or {}
        return {"number_of_webhooks": max(0, int(doc.get("webhooks", 0))),
                "number_of_payloads_received": max(0, int(doc.get("payloads", 0)))}

    # --- retention and deferred deletes --------------------------------------------

    async def expire(self, retention: timedelta, batch: int = EXPIRE_BATCH) -> list[dict]:
        """Delete the webhooks older than ``retention``; the removed documents.

        Each webhook is one ``find_one_and_delete`` (which tells whether this call, not a
        concurrent DELETE, removed it, and the final ``seq`` the purge needs); the counters of
        a batch are one write and its purge records one round trip, instead of two per webhook.
        """
        cutoff = now() - retention
        expired = [d["_id"] async for d in self.webhooks.find({"created_at": {"$lt": cutoff}}, {"_id": 1})]
        removed = []
        for start in range(0, len(expired), batch):
            gone = [doc for doc in [await self.webhooks.find_one_and_delete({"_id": key})
                                    for key in expired[start:start + batch]] if doc is not None]
            if not gone:
                continue
            await self._count(webhooks=-len(gone), payloads=-sum(int(d.get("seq") or 0) for d in gone))
            deleted_at = now()
            await self.graveyard.bulk_write([
                UpdateOne({"_id": d["id"]}, {"$set": {"upto": int(d.get("seq") or 0), "deleted_at": deleted_at},
                                             "$setOnInsert": {"done": 0}}, upsert=True)
                for d in gone], ordered=False)
            removed.extend(gone)
        return removed

    @staticmethod
    def _purge_ids(webhook_id: str, first: int, last: int, upto: int) -> list[str]:
        """The ids to delete for the seqs ``first..last`` of a deleted webhook: every seq's own
        document (a sealed one's delete finds nothing, and one left by a seal interrupted
        between its insert and its deletes goes too) and each bucket whose last seq is in
        the range. Reading the buckets first to skip the sealed seqs was measured no faster
        (158 s for 500,000 payloads with the blind deletes, 193-232 s with the reads)."""
        return ([payload_id(webhook_id, seq) for seq in range(first, last + 1)]
                + [bucket_id(webhook_id, n) for n in range(bucket_of(first), bucket_of(last) + 1)
                   if last >= min(upto, bucket_seqs(n)[-1])])

    async def purge_deleted(self, budget: int = 20_000, grace: timedelta = DELETE_GRACE) -> int:
        """Delete payloads of deleted webhooks in batches; how many sequence numbers were
        cleared (at most ``budget`` per call, 0 when nothing is left to purge).

        A batch is the next sequence numbers of one or more deleted webhooks, up to
        ``DELETE_BATCH``: the own documents and the buckets of the range, removed by one
        unordered bulk write of ``{_id: <id>}`` deletes (one round trip; each an index
        lookup on FerretDB and on MongoDB). Not one ``_id $in`` delete:
        FerretDB does not push ``$in`` down and scans the whole payloads table for every batch
        (1.9 s for 500 ids at 20,000 payloads, against 0.1-0.3 s for 500 point deletes).
        Progress is recorded after each batch (``done``), so an interrupted purge resumes
        where it stopped.
        """
        cleared = 0
        ripe = now() - grace
        pending = [e for e in await self.graveyard.find({}).to_list(1000)
                   if not (e.get("deleted_at") and e["deleted_at"] > ripe)]
        while pending and budget > 0:
            ids: list[str] = []
            progress: list[tuple[dict, int]] = []
            taken = 0
            for entry in pending:
                done, upto = int(entry.get("done", 0)), int(entry.get("upto", 0))
                take = max(0, min(upto - done, DELETE_BATCH - taken, budget - taken))
                if take:
                    ids += self._purge_ids(entry["_id"], done + 1, done + take, upto)
                taken += take
                progress.append((entry, done + take))
                if taken >= min(DELETE_BATCH, budget):
                    break
            if ids:
                await self.payloads.bulk_write([DeleteOne({"_id": i}) for i in ids], ordered=False)
                cleared += taken
                budget -= taken
            finished = [entry for entry, done in progress if done >= int(entry.get("upto", 0))]
            writes = [DeleteOne({"_id": e["_id"]}) for e in finished]
            writes += [UpdateOne({"_id": entry["_id"]}, {"$set": {"done": done}})
                       for entry, done in progress if entry not in finished]
            if writes:
                await self.graveyard.bulk_write(writes, ordered=False)
            for entry, done in progress:
                entry["done"] = done
            pending = [e for e in pending if e not in finished]
        return cleared
