"""The datastore's schema on FerretDB: counters, point keys, batched and resumable purges.

Runs the app's :class:`webhooks.store.Store` in-process against the shared
stack's FerretDB (the api and ws of that stack use the same database).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import requests
from pymongo import MongoClient

from webhooks.store import Store, now, payload_id


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
