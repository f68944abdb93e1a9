"""Steady background traffic, for tests that break things while payloads flow."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

from .client import WebhooksClient


@dataclass
class Outcome:
    seq: int
    status: int | None  # None: no HTTP answer (connection refused or reset)
    error: str = ""
    sent_at: float = 0.0  # time.monotonic() when the post started


@dataclass
class Poster:
    """Posts ``{"seq": n, "tag": tag}`` to one webhook every ``interval`` seconds, in a thread."""

    client: WebhooksClient
    token: str
    tag: str
    interval: float = 0.1
    limit: int = 90  # GET /data returns at most 100: keep every payload checkable
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "Poster":
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"poster-{self.tag}")
        self._thread.start()
        return self

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set() and len(self.acknowledged) < self.limit:
            sent_at = time.monotonic()
            try:
                resp = self.client.post_payload(self.token, {"seq": seq, "tag": self.tag}, timeout=5)
                self.outcomes.append(Outcome(seq, resp.status_code, sent_at=sent_at))
            except requests.RequestException as exc:
                self.outcomes.append(Outcome(seq, None, type(exc).__name__, sent_at=sent_at))
            seq += 1
            time.sleep(self.interval)

    def stop(self) -> "Poster":
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        return self

    @property
    def acknowledged(self) -> list[int]:
        """Sequence numbers the app answered 201 for: each must be stored."""
        return [o.seq for o in self.outcomes if o.status == 201]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 201]

    def __enter__(self) -> "Poster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
