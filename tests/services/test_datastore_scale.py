"""Routes cost the same with a much bigger database (the FerretDB row of issue 11).

FerretDB's SQLite backend once scanned whole tables for every lookup: at ~300 MB a GET /data
took 9 s. Here each route's median is measured, 20,000 payloads of 2 KB are added, and it is
measured again, in the same run, so the comparison holds on a loaded machine. The absolute p99
at 10,000 webhooks and 1 GB is bench/datastore's (README, reliability section).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

import requests
from pymongo import MongoClient

from webhooks.store import now, payload_id

ADDED = 20_000


def median_ms(call, rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        resp = call()
        times.append((time.perf_counter() - started) * 1000)
        assert resp.status_code < 300, resp.text
    return statistics.median(times)


def add_payloads(url: str, count: int) -> None:
    """``count`` payloads of other webhooks, straight into the database in the api's layout."""
    db = MongoClient(url).get_default_database()
    content, created = json.dumps({"pad": "x" * 2000}), now()
    for start in range(0, count, 1000):
        webhook_id = uuid.uuid4().hex
        db.payloads.insert_many([{"_id": payload_id(webhook_id, seq), "webhook": f"scale-{start}",
                                  "webhook_id": webhook_id, "seq": seq, "content": content, "created_at": created}
                                 for seq in range(1, 1001)], ordered=False)


def test_every_route_costs_the_same_with_20000_more_payloads(fragile_stack, client_for):
    client = client_for(fragile_stack)
    api = fragile_stack.api.url
    full, empty, posted = client.new_webhook(), client.new_webhook(), client.new_webhook()
    for n in range(100):
        assert client.post(full["token"], {"n": n, "pad": "y" * 500}).status_code == 201
    routes = {
        "GET /data?nbr=100": lambda: requests.get(f"{api}/data", params={"token": full["token"], "nbr": 100},
                                                  timeout=30),
        "GET /data (no payload)": lambda: requests.get(f"{api}/data", params={"token": empty["token"]}, timeout=30),
        "GET /wh/info": lambda: requests.get(f"{api}/wh/info", params={"token": full["token"]}, timeout=30),
        "GET /stats": lambda: requests.get(f"{api}/stats", timeout=30),
        "POST /data": lambda: client.post(posted["token"], {"pad": "z" * 500}, timeout=30),
        "GET /wh": lambda: requests.get(f"{api}/wh", timeout=30),
    }
    before = {name: median_ms(call) for name, call in routes.items()}
    add_payloads(fragile_stack.mongo.url, ADDED)
    after = {name: median_ms(call) for name, call in routes.items()}
    slower = {name: f"{before[name]:.1f} ms -> {after[name]:.1f} ms" for name in routes
              if after[name] > 3 * before[name] + 5}
    assert not slower, f"routes slower with {ADDED} more payloads (a table scan?): {slower}"
    delete = client.new_webhook()
    for n in range(20):
        assert client.post(delete["token"], {"n": n}).status_code == 201
    started = time.perf_counter()
    assert requests.delete(f"{api}/wh", params={"token": delete["token"]}, timeout=30).status_code < 300
    assert (time.perf_counter() - started) * 1000 < 3 * max(before.values()) + 50
