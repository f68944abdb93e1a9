"""The offline database (FerretDB 1.24) with the chart's authentication settings.

The attack: any pod that reaches the database reads every tenant's tokens (hashes)
and payloads. The chart gives FerretDB the settings this test gives it
(``FERRETDB_TEST_ENABLE_NEW_AUTH`` and the ``FERRETDB_SETUP_*`` user; see
chart/templates/mongo.yaml, flavor ``ferretdb``): without the user's
password nothing is read or written, with it the app works.
"""

from __future__ import annotations

import asyncio

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from webhooks.store import Store
from webhooks_testing.local_stack import start_ferretdb

USER, PASSWORD = "webhooks", "generated-pw-1"


@pytest.fixture(scope="module")
def ferretdb_with_user(tmp_path_factory):
    server = start_ferretdb(tmp_path_factory.mktemp("ferretdb-auth"), env={
        "FERRETDB_TEST_ENABLE_NEW_AUTH": "true", "FERRETDB_SETUP_DATABASE": "admin",
        "FERRETDB_SETUP_USERNAME": USER, "FERRETDB_SETUP_PASSWORD": PASSWORD})
    yield server
    server.stop()


def url_with(server, user: str | None, password: str | None) -> str:
    hostport = server.url.split("://", 1)[1]
    if user is None:
        return server.url
    return f"mongodb://{user}:{password}@{hostport}?authSource=admin"


@pytest.mark.parametrize("user,password", [(None, None), (USER, "wrong"), ("intruder", PASSWORD)])
def test_without_the_users_password_nothing_is_read(ferretdb_with_user, user, password):
    client = MongoClient(url_with(ferretdb_with_user, user, password), serverSelectionTimeoutMS=3000)
    try:
        with pytest.raises(OperationFailure) as failure:
            client.get_default_database().webhooks.find_one({})
        assert failure.value.code in (13, 18), failure.value  # Unauthorized / AuthenticationFailed
    finally:
        client.close()


def test_the_app_works_with_the_user(ferretdb_with_user):
    async def scenario():
        store = Store(url_with(ferretdb_with_user, USER, PASSWORD))
        try:
            await store.ensure_indexes()
            hook = await store.create_webhook()
            assert await store.insert_payload(hook, '{"ok":1}', hook["created_at"]) == 1
            fresh = await store.find_webhook(hook["token"])
            assert [p["content"] for p in await store.list_payloads(fresh, 5)] == [{"ok": 1}]
        finally:
            await store.close()

    asyncio.run(scenario())
