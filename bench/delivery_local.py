"""POST -> websocket frame latency of the webhooks services, all running locally.

Starts nats-server, FerretDB, api and ws (webhooks_testing.local_stack), opens one websocket
on a fresh webhook, posts N payloads one after another and measures the time
from sending each POST to receiving its frame. Prints p50/p90/p99/max.
Goal: p99 < 100 ms on a developer machine. Not a test.

    .venv/bin/python bench/delivery_local.py [-n 500] [--clients 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from webhooks_testing.local_stack import Stack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="payloads to post (default 500)")
    parser.add_argument("--clients", type=int, default=1, help="websocket clients on the webhook")
    parser.add_argument("--goal-ms", type=float, default=100.0, help="p99 goal")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="webhooks-bench-") as tmp, \
            Stack(Path(tmp), extra_env={"LOG_LEVEL": "WARNING"}, services=("api", "ws")) as stack:
        http = requests.Session()
        hook = http.get(f"{stack.api.url}/wh").json()
        socks = []
        for _ in range(args.clients):
            sock = websocket.create_connection(f"{stack.ws_url}?token={hook['token']}", timeout=10)
            assert sock.recv().startswith("webhook:")
            socks.append(sock)
        headers = {"Authorization": f"Bearer {hook['token']}"}
        for i in range(10):  # warm up
            http.post(f"{stack.api.url}/data", json={"warmup": i}, headers=headers)
            for sock in socks:
                sock.recv()
        latencies, post_times = [], []
        started = time.perf_counter()
        for i in range(args.n):
            t0 = time.perf_counter()
            resp = http.post(f"{stack.api.url}/data", json={"i": i, "pad": "x" * 200}, headers=headers)
            t1 = time.perf_counter()
            assert resp.status_code == 201, resp.text
            for sock in socks:
                frame = json.loads(sock.recv())
                assert frame["content"]["i"] == i, frame
            latencies.append((time.perf_counter() - t0) * 1000)
            post_times.append((t1 - t0) * 1000)
        elapsed = time.perf_counter() - started
        for sock in socks:
            sock.close()

    p99 = percentile(latencies, 99)
    print(f"payloads: {args.n}, websocket clients: {args.clients}, {args.n / elapsed:.0f} payloads/s")
    print(f"POST latency      ms: p50 {statistics.median(post_times):6.2f}  p99 {percentile(post_times, 99):6.2f}")
    print(f"POST->frame       ms: p50 {statistics.median(latencies):6.2f}  p90 {percentile(latencies, 90):6.2f}"
          f"  p99 {p99:6.2f}  max {max(latencies):6.2f}")
    verdict = "OK" if p99 < args.goal_ms else "SLOW"
    print(f"goal p99 < {args.goal_ms:.0f} ms: {verdict}")
    return 0 if p99 < args.goal_ms else 1


if __name__ == "__main__":
    sys.exit(main())
