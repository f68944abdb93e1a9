"""The real Traefik's answers, kept: a rerun asks the cache, not a new Traefik.

What the local Traefik does with a request depends only on the Traefik binary, the
dynamic configuration it was given (with each Service's local backend named, not its
random port) and the request. :class:`TraefikAnswers` keys every answer by exactly
that (:mod:`chartest.results`, ``<state>/cache/traefik``): a hit is the answer the
real Traefik gave to the same request under the same configuration; on a miss the real
Traefik answers (started once, on the first miss, or in the background as soon as a
configuration never answered before is asked for) and the answer is stored. Another
Traefik binary (a version bump), another route, another request: a miss.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from concurrent.futures import Future
from typing import Callable, Iterable

from ..results import ResultCache, key_of
from .live import LocalTraefik, Observed, dynamic_config, served_routes, traefik_binary
from .request import Request
from .table import RoutingTable

__all__ = ["TraefikAnswers", "answer_cache", "config_key", "prestart", "stop_prestarted"]

FORMAT = 1  # bump when LocalTraefik's static arguments or the stored answers change
answer_cache = ResultCache("traefik", version=FORMAT)
stats = {"traefik_starts": 0}
_binary_identity: dict[str, str] = {}
_prestarted: dict[str, Future] = {}  # config key -> a Traefik started ahead of its first question
_prestarted_lock = threading.Lock()


def traefik_identity(binary: str | None = None) -> str:
    """The Traefik that answers: its path, size and mtime (stat'ed once per process and path)."""
    path = binary or traefik_binary()
    if path not in _binary_identity:
        st = os.stat(path)
        _binary_identity[path] = f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    return _binary_identity[path]


def config_key(table: RoutingTable, binary: str | None = None) -> str:
    """Traefik, the dynamic configuration (backends by name) and the entry points it listens on."""
    entry_points = sorted({ep for r in served_routes(table) for ep in r.entry_points} | {"web"})
    return key_of({"format": FORMAT, "traefik": traefik_identity(binary),
                   "dynamic": dynamic_config(table, lambda backend: backend),
                   "entry_points": entry_points, "default_entry_point": table.default_entry_point})


def _in_background(start: Callable[[], LocalTraefik]) -> Future:
    """``start()`` on a thread of its own; the future gives the started Traefik or the error."""
    future: Future = Future()

    def run() -> None:
        try:
            stats["traefik_starts"] += 1
            future.set_result(start())
        except BaseException as exc:  # noqa: BLE001 - raised where the answer is needed
            future.set_exception(exc)

    threading.Thread(target=run, name="chartest-traefik-start", daemon=True).start()
    return future


def prestart(table: RoutingTable, requests: list[Request] | None = None, binary: str | None = None) -> bool:
    """Start the real Traefik for ``table`` now, in the background, unless its configuration has
    answered before, and ask it ``requests`` (stored as :meth:`TraefikAnswers.ask_all` stores them);
    a later :class:`TraefikAnswers` of the same configuration takes it over. The work plan calls
    this once collection has run, for the configurations its tests asked about (and their corpus)."""
    key = config_key(table, binary)
    with _prestarted_lock:
        if key in _prestarted or answer_cache.has(key):
            return False

        def start() -> LocalTraefik:
            traefik = LocalTraefik(table, binary=binary).start()
            if requests:
                try:
                    asked = [_normalized(table, r) for r in requests]
                    _store(key, asked, traefik.ask_all(asked))
                except Exception:  # noqa: BLE001 - the test asks again and reports
                    pass
            return traefik

        _prestarted[key] = _in_background(start)
    return True


def stop_prestarted() -> None:
    """Stop the Traefiks started ahead that no test took over (at session end)."""
    with _prestarted_lock:
        left = list(_prestarted.values())
        _prestarted.clear()
    for future in left:
        try:
            future.result().stop()
        except Exception:  # noqa: BLE001 - it never started: nothing to stop
            pass


def _request_form(req: Request) -> list:
    return [req.method, req.host, req.target, [list(h) for h in req.headers], req.websocket, req.client_ip,
            req.entry_point]


class TraefikAnswers:
    """``ask``/``ask_all`` as :class:`LocalTraefik`, answered from the cache where the same Traefik
    answered the same request under the same configuration; other attributes (``url()``,
    ``refused``, ``ports``) are the running Traefik's."""

    def __init__(self, table: RoutingTable, start: Callable[[], LocalTraefik] | None = None,
                 binary: str | None = None):
        self.table = table
        self.binary = binary
        self.key = config_key(table, binary)
        self._start = start or (lambda: LocalTraefik(table, binary=binary).start())
        self._traefik: Future | None = None
        self._lock = threading.Lock()
        if start is None:
            with _prestarted_lock:
                self._traefik = _prestarted.pop(self.key, None)
        self._from_ahead = self._traefik is not None
        if answer_cache.get(self.key) is None:  # a configuration never answered: start Traefik now
            self._starting()

    def _starting(self) -> Future:
        with self._lock:
            if self._traefik is None:
                self._traefik = _in_background(self._start)
            return self._traefik

    @property
    def traefik(self) -> LocalTraefik:
        """The real Traefik, started now unless it is already (one started ahead that failed is
        started again here, so the error, if any, is this test's own)."""
        started = self._starting()
        if self._from_ahead and started.exception() is not None:
            with self._lock:
                self._from_ahead = False
                self._traefik = None
            started = self._starting()
        return started.result()

    @property
    def started(self) -> bool:
        return self._traefik is not None

    def stop(self) -> None:
        if self._traefik is not None:
            try:
                self._traefik.result().stop()
            except Exception:  # noqa: BLE001 - it never started: nothing to stop
                pass

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.traefik, name)

    def ask(self, req: Request) -> Observed:
        return self.ask_all([req])[0]

    def ask_all(self, requests: Iterable[Request], workers: int = 4) -> list[Observed]:
        """Every answer, in order: the stored ones, else the real Traefik's (then stored)."""
        requests = [_normalized(self.table, r) for r in requests]
        if not requests:
            return []
        key = _answers_key(self.key, requests)
        stored = answer_cache.get(key)
        if stored is None:
            traefik = self.traefik  # a Traefik started ahead may have been asked these meanwhile
            stored = answer_cache.get(key)
        if stored is not None:
            return [Observed(**o) for o in stored]
        answers = traefik.ask_all(requests, workers=workers) if len(requests) > 1 else [traefik.ask(requests[0])]
        _store(self.key, requests, answers)
        return answers


def _normalized(table: RoutingTable, req: Request) -> Request:
    if req.entry_point is None:
        req.entry_point = table.default_entry_point  # as LocalTraefik.ask does
    return req


def _answers_key(config: str, requests: list[Request]) -> str:
    return key_of({"config": config, "requests": [_request_form(r) for r in requests]})


def _store(config: str, requests: list[Request], answers: list[Observed]) -> None:
    answer_cache.put(_answers_key(config, requests), [dataclasses.asdict(o) for o in answers])
    answer_cache.put(config, True)  # this configuration has answered before
