"""No cross-tenant delivery: a reused webhook name never reaches an old socket.

The stack draws names from one word per list (``WORDLIST_SIZE=1``), so every
webhook is called ``able-amber-albatross``: a new webhook gets the name of the
one deleted before it, as it eventually would from the full ~690,000 names.
"""

from __future__ import annotations

import hashlib
import time

import pytest
import requests
from pymongo import MongoClient

from webhooks_testing.local_stack import Stack

FRAMES_WINDOW = 2.0


@pytest.fixture(scope="module")
def one_name(tmp_path_factory):
    env = {"WORDLIST_SIZE": "1", "WS_RESYNC_SECONDS": "1", "MONGO_TIMEOUT_MS": "2000"}
    with Stack(tmp_path_factory.mktemp("one-name"), extra_env=env) as running:
        yield running


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory):
    """Webhooks expire 3 s after creation; retention runs every 0.5 s."""
    env = {"RETENTION_DAYS": str(3 / 86400), "CLEANUP_INTERVAL_SECONDS": "0.5", "MONGO_TIMEOUT_MS": "2000"}
    with Stack(tmp_path_factory.mktemp("short-lived"), extra_env=env) as running:
        yield running


def test_socket_of_deleted_webhook_is_closed_and_gets_nothing_of_its_successor(one_name, client_for):
    client = client_for(one_name)
    old = client.new_webhook()
    old_sock = client.subscribe(old["token"])
    try:
        assert requests.delete(f"{client.api}/wh", params={"token": old["token"]}, timeout=10).status_code == 200
        new = client.new_webhook()
        assert new["name"] == old["name"]                       # the name is reused
        new_sock = client.subscribe(new["token"])
        try:
            assert client.post(new["token"], {"tenant": "new"}).status_code == 201
            assert client.frame(new_sock)["content"] == {"tenant": "new"}
        finally:
            new_sock.close()
            # the one name must be free again for the next test
            requests.delete(f"{client.api}/wh", params={"token": new["token"]}, timeout=10)
        frames, code, reason = client.read_until_closed(old_sock, timeout=FRAMES_WINDOW)
        assert frames == []                                     # not one frame of the new tenant
        assert (code, reason) == (1008, "webhook deleted")
    finally:
        old_sock.close()


def test_lost_close_announcement_still_delivers_nothing_across_tenants(one_name, client_for):
    """The webhook disappears from the database without a word to ws (as if the
    announcement were lost): the id keying alone keeps the new tenant's payloads
    away, and the periodic re-check closes the orphan socket."""
    client = client_for(one_name)
    old = client.new_webhook()
    old_sock = client.subscribe(old["token"])
    try:
        with MongoClient(one_name.mongo.url, serverSelectionTimeoutMS=5000) as mongo:
            hashed = hashlib.sha256(old["token"].encode()).hexdigest()
            assert mongo.get_default_database().webhooks.delete_one({"_id": hashed}).deleted_count == 1
        new = client.new_webhook()
        assert new["name"] == old["name"]
        for i in range(5):
            assert client.post(new["token"], {"tenant": "new", "i": i}).status_code == 201
        frames, code, reason = client.read_until_closed(old_sock, timeout=5)
        assert frames == []
        assert (code, reason) == (1008, "webhook deleted")      # closed by the re-check (1 s here)
        requests.delete(f"{client.api}/wh", params={"token": new["token"]}, timeout=10)
    finally:
        old_sock.close()


def test_tokens_are_stored_hashed(one_name, client_for):
    client = client_for(one_name)
    hook = client.new_webhook()
    try:
        with MongoClient(one_name.mongo.url, serverSelectionTimeoutMS=5000) as mongo:
            db = mongo.get_default_database()
            docs = list(db.webhooks.find({}))
            stored = repr(docs) + repr(list(db.payloads.find({})))
        assert hook["token"] not in stored
        assert [d["_id"] for d in docs] == [hashlib.sha256(hook["token"].encode()).hexdigest()]
    finally:
        requests.delete(f"{client.api}/wh", params={"token": hook["token"]}, timeout=10)


def test_socket_of_expired_webhook_is_closed(short_lived, client_for):
    client = client_for(short_lived)
    hook = client.new_webhook()
    sock = client.subscribe(hook["token"])
    started = time.monotonic()
    try:
        frames, code, reason = client.read_until_closed(sock, timeout=15)
    finally:
        sock.close()
    assert frames == []
    assert (code, reason) == (1008, "webhook deleted")
    assert time.monotonic() - started < 10
    assert requests.get(f"{client.api}/wh/info", params={"token": hook["token"]}, timeout=10).status_code == 404
    assert requests.get(f"{client.api}/stats", timeout=10).json()["stats"]["number_of_webhooks"] == 0
