"""The datastore's schema on FerretDB: counters, point keys, buckets, batched and resumable purges.

Runs the app's :class:`webhooks.store.Store` in-process against the shared
stack's FerretDB (the api and ws of that stack use the same database).
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import timedelta

import requests
from pymongo import MongoClient

from webhooks.store import (BUCKET_BYTES, BUCKET_ITEM_BYTES, BUCKET_SIZE, SEAL_GRACE, Store, bucket_document,
                            bucket_id, now, payload_id, unpack)


def test_deleted_webhooks_payloads_are_purged_in_resumable_batches(stack):
    async def scenario():
        store = Store(stack.mongo.url)
        try:
            before = await store.stats()
            hook = await store.create_webhook()
            for i in range(30):
                assert await store.insert_payload(hook, '{"i":%d}' % i, now()) == i + 1
            assert (await store.stats())["number_of_payloads_received"] == before["number_of_payloads_received"] + 30
            fresh = await store.find_webhook(hook["token"])
            assert Store.info(fresh)["payload_nbr"] == 30
            newest = await store.list_payloads(fresh, 5)
            assert [p["content"]["i"] for p in newest] == [29, 28, 27, 26, 25]

            assert await store.delete_webhook(fresh) is not None
            assert await store.find_webhook(hook["token"]) is None            # unreachable at once
            assert await store.stats() == before                              # counters, not scans
            # the payloads go in batches; a budget stops a run midway and the next one resumes
            assert await store.purge_deleted(budget=20, grace=timedelta(0)) >= 20
            await store.purge_deleted(budget=1000, grace=timedelta(0))
            assert await store.payloads.find_one({"_id": payload_id(hook["id"], 30)}) is None
            assert await store.payloads.find_one({"_id": payload_id(hook["id"], 1)}) is None
            assert await store.payloads.count_documents({"webhook_id": hook["id"]}) == 0  # buckets too
            assert await store.graveyard.find_one({"_id": hook["id"]}) is None
        finally:
            await store.close()

    asyncio.run(scenario())
    assert requests.get(f"{stack.api.url}/stats", timeout=10).status_code == 200


def test_tokens_are_looked_up_by_hash_on_the_primary_key(stack):
    async def scenario():
        store = Store(stack.mongo.url)
        try:
            hook = await store.create_webhook()
            stored = await store.webhooks.find_one({"id": hook["id"]})
            assert "token" not in stored and hook["token"] not in repr(stored)
            assert (await store.find_webhook(hook["token"]))["id"] == hook["id"]
            await store.delete_webhook(stored)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_hot_queries_have_indexes(stack):
    """Token lookups go by ``_id`` (the token's hash); payload history and retention have indexes."""
    async def scenario():
        store = Store(stack.mongo.url)
        try:
            await store.ensure_indexes()
            webhooks = {ix["name"]: ix["key"] async for ix in await store.webhooks.list_indexes()}
            payloads = {ix["name"]: ix["key"] async for ix in await store.payloads.list_indexes()}
            return webhooks, payloads
        finally:
            await store.close()

    webhooks, payloads = asyncio.run(scenario())
    assert dict(webhooks["_id_"]) == {"_id": 1}                      # token hash -> webhook
    assert dict(webhooks["created_at"]) == {"created_at": 1}         # retention's cutoff query
    assert dict(webhooks["name_unique"]) == {"name": 1}
    assert dict(payloads["webhook_id_created_at"]) == {"webhook_id": 1, "created_at": -1}


def test_id_lookups_are_index_searches_on_ferretdb(stack):
    """The FerretDB build's patch: a find, update or delete by ``_id`` searches the ``_id`` index.

    FerretDB 1.24 as published scans the table (``SCAN``) for every ``_id`` lookup, so each
    point read costs time proportional to the collection's size.
    """
    db = MongoClient(stack.mongo.url).get_default_database()
    probe = db["explain_probe"]
    try:
        probe.insert_many([{"_id": f"p{i}", "v": i} for i in range(50)])
        point = db.command("explain", {"find": probe.name, "filter": {"_id": "p7"}}, verbosity="queryPlanner")
        listed = db.command("explain", {"find": probe.name, "filter": {"v": 7}}, verbosity="queryPlanner")
    finally:
        probe.drop()
    assert point["filterPushdown"] is True
    assert any("USING INDEX" in step for step in point["queryPlanner"]["Plan"]), point["queryPlanner"]
    assert not any("USING INDEX" in step for step in listed["queryPlanner"]["Plan"])  # the probe tells them apart


def _run(stack, scenario):
    """Run ``scenario(store)`` with a Store of its own on the stack's database."""
    async def main():
        store = Store(stack.mongo.url)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def _insert_own(store: Store, hook: dict, seqs, created=None) -> None:
    """Payloads as documents of their own, written directly (the previous layout, or before a seal)."""
    await store.payloads.insert_many([
        {"_id": payload_id(hook["id"], seq), "webhook": hook["name"], "webhook_id": hook["id"],
         "seq": seq, "content": '{"i":%d}' % seq, "created_at": created or now()} for seq in seqs])


async def _own_and_buckets(store: Store, webhook_id: str) -> tuple[list[int], list[int]]:
    """The seqs stored as documents of their own, and the bucket numbers, of one webhook."""
    docs = await store.payloads.find({"webhook_id": webhook_id}).to_list(None)
    return (sorted(d["seq"] for d in docs if "seq" in d),
            sorted(int(d["_id"].rsplit(":b", 1)[1]) for d in docs if "packed" in d))


def test_pages_are_read_across_sealed_buckets_and_the_unsealed_tail(stack):
    """35 payloads: 3 sealed buckets of 10 and 5 payloads of their own; every page is newest first."""
    assert BUCKET_SIZE == 10

    async def scenario(store: Store):
        hook = await store.create_webhook()
        for i in range(1, 36):
            assert await store.insert_payload(hook, '{"i":%d}' % i, now()) == i
        await store.settle()
        assert await _own_and_buckets(store, hook["id"]) == ([31, 32, 33, 34, 35], [0, 1, 2])
        fresh = await store.find_webhook(hook["token"])
        for nbr in (1, 5, 6, 7, 16, 35, 100):
            page = await store.list_payloads(fresh, nbr)
            assert [p["content"]["i"] for p in page] == list(range(35, max(0, 35 - nbr), -1)), nbr
        ws_view = await store.get_payloads(hook["id"], [29, 30, 31, 1])   # ws's catch-up reads
        assert [(d["seq"], d["content"]) for d in ws_view] == [(29, '{"i":29}'), (30, '{"i":30}'),
                                                              (31, '{"i":31}'), (1, '{"i":1}')]
        return hook

    hook = _run(stack, scenario)
    resp = requests.get(f"{stack.api.url}/data", params={"token": hook["token"], "nbr": 12}, timeout=10)
    assert [p["content"]["i"] for p in resp.json()["data"]] == list(range(35, 23, -1))
    info = requests.get(f"{stack.api.url}/wh/info", params={"token": hook["token"]}, timeout=10).json()["info"]
    assert info["payload_nbr"] == 35


def test_nbr_is_capped_at_100_across_buckets(stack, client):
    hook = client.new_webhook()
    for i in range(1, 106):
        assert client.post(hook["token"], {"i": i}).status_code == 201
    assert [p["content"]["i"] for p in client.history(hook["token"], 500)] == list(range(105, 5, -1))
    assert [p["content"]["i"] for p in client.history(hook["token"])] == list(range(105, 85, -1))  # default 20


def test_a_bucket_keeps_large_payloads_and_those_past_its_byte_bound_as_their_own_documents(stack):
    large = BUCKET_ITEM_BYTES
    medium = BUCKET_BYTES // 8 - 100          # 8 fill the bucket: the 9th medium one passes its byte bound

    async def scenario(store: Store):
        hook = await store.create_webhook()
        texts = ['"%s"' % (chr(ord("a") + i) * (medium - 2)) for i in range(BUCKET_SIZE)]
        texts[3] = '"%s"' % ("L" * (large - 2))
        for text in texts:
            await store.insert_payload(hook, text, now())
        await store.settle()
        bucket = await store.payloads.find_one({"_id": bucket_id(hook["id"], 0)})
        assert len(zlib.decompress(bucket["packed"])) <= BUCKET_BYTES
        assert [p["seq"] for p in unpack(bucket)] == [1, 2, 3, 5, 6, 7, 8, 9]
        assert bucket["singles"] == [4, 10]              # the large one, then the first past the bound
        assert await _own_and_buckets(store, hook["id"]) == ([4, 10], [0])
        page = await store.list_payloads(await store.find_webhook(hook["token"]), 100, raw=True)
        assert [p["content"] for p in page] == texts[::-1]

    _run(stack, scenario)


def test_retention_and_purge_delete_buckets_and_own_documents(stack):
    async def scenario(store: Store):
        before = await store.stats()
        hook = await store.create_webhook()
        for i in range(1, 26):
            await store.insert_payload(hook, '{"i":%d}' % i, now())
        await store.settle()
        assert await _own_and_buckets(store, hook["id"]) == (list(range(21, 26)), [0, 1])
        await store.webhooks.update_one({"_id": hook["_id"]}, {"$set": {"created_at": now() - timedelta(days=3)}})
        expired = await store.expire(timedelta(days=2))
        assert [d["id"] for d in expired] == [hook["id"]]            # the other tests' webhooks are recent
        assert await store.stats() == before
        assert await store.purge_deleted(budget=12, grace=timedelta(0)) == 12   # resumable, mid-bucket
        assert await _own_and_buckets(store, hook["id"]) == (list(range(21, 26)), [1])
        assert await store.purge_deleted(grace=timedelta(0)) >= 13
        assert await _own_and_buckets(store, hook["id"]) == ([], [])
        assert await store.graveyard.find_one({"_id": hook["id"]}) is None

    _run(stack, scenario)


def test_payloads_of_the_previous_layout_are_read_and_sealed_on_read(stack):
    """An upgraded database: every payload a document of its own, no bucket."""
    async def scenario(store: Store):
        hook = await store.create_webhook()
        created = now()
        await _insert_own(store, hook, range(1, 26), created)
        await store.webhooks.update_one({"_id": hook["_id"]}, {"$set": {"seq": 25, "last_payload_at": created}})
        fresh = await store.find_webhook(hook["token"])
        before = await store.list_payloads(fresh, 100)
        assert [p["content"]["i"] for p in before] == list(range(25, 0, -1))
        await store.settle()                                       # the read sealed the complete ranges
        assert await _own_and_buckets(store, hook["id"]) == (list(range(21, 26)), [0, 1])
        assert await store.list_payloads(fresh, 100) == before     # contents and created_at, to the ms
        assert await store.insert_payload(fresh, '{"i":26}', now()) == 26
        assert [p["content"]["i"] for p in await store.list_payloads(
            await store.find_webhook(hook["token"]), 3)] == [26, 25, 24]

    _run(stack, scenario)


def test_a_range_with_a_missing_seq_is_sealed_only_after_the_grace(stack):
    async def scenario(store: Store):
        hook = await store.create_webhook()
        await _insert_own(store, hook, [s for s in range(1, 11) if s != 4])  # 4's insert still in flight
        assert await store.seal_bucket(hook["id"], 0) is False
        await store.payloads.update_many({"webhook_id": hook["id"]},
                                         {"$set": {"created_at": now() - SEAL_GRACE * 2}})
        assert await store.seal_bucket(hook["id"], 0) is True
        bucket = await store.payloads.find_one({"_id": bucket_id(hook["id"], 0)})
        assert [p["seq"] for p in unpack(bucket)] == [1, 2, 3, 5, 6, 7, 8, 9, 10]
        assert "singles" not in bucket
        got = await store.get_payloads(hook["id"], list(range(10, 0, -1)))
        assert [d["seq"] for d in got] == [10, 9, 8, 7, 6, 5, 3, 2, 1]

    _run(stack, scenario)


def test_concurrent_seals_and_reads_lose_no_payload(stack):
    """Two api processes seal the same ranges while a third reads: every payload is read every time."""
    async def scenario():
        stores = [Store(stack.mongo.url) for _ in range(3)]
        try:
            hook = await stores[0].create_webhook()
            await _insert_own(stores[0], hook, range(1, 61))
            seqs = list(range(60, 0, -1))

            async def reads() -> list[list[int]]:
                return [[d["seq"] for d in await stores[2].get_payloads(hook["id"], seqs)] for _ in range(8)]

            results = await asyncio.gather(
                *(stores[i].seal_bucket(hook["id"], n) for n in range(6) for i in (0, 1)), reads())
            assert all(results[:12])
            assert all(page == seqs for page in results[-1])
            assert await _own_and_buckets(stores[0], hook["id"]) == ([], [0, 1, 2, 3, 4, 5])
            buckets = await stores[0].payloads.find({"webhook_id": hook["id"]}).to_list(None)
            assert sorted(p["seq"] for b in buckets for p in unpack(b)) == list(range(1, 61))
        finally:
            for store in stores:
                await store.close()

    asyncio.run(scenario())


def test_a_seal_interrupted_before_its_deletes_leaves_no_duplicate_and_nothing_after_the_purge(stack):
    async def scenario(store: Store):
        hook = await store.create_webhook()
        await _insert_own(store, hook, range(1, 11))
        await store.webhooks.update_one({"_id": hook["_id"]}, {"$set": {"seq": 10}})
        own = await store.payloads.find({"webhook_id": hook["id"]}).to_list(None)
        await store.payloads.insert_one(bucket_document(hook["id"], 0, own)[0])  # the api stopped here
        assert await _own_and_buckets(store, hook["id"]) == (list(range(1, 11)), [0])
        page = await store.list_payloads(await store.find_webhook(hook["token"]), 100)
        assert [p["content"]["i"] for p in page] == list(range(10, 0, -1))
        await store.delete_webhook(await store.find_webhook(hook["token"]))
        assert await store.purge_deleted(grace=timedelta(0)) >= 10
        assert await _own_and_buckets(store, hook["id"]) == ([], [])

    _run(stack, scenario)
