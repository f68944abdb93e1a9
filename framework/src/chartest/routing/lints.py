"""Routing lints: the mistakes that send requests to the wrong Service, found from the render alone.

* ``prefix-leak``: a ``PathPrefix`` without a trailing slash also captures its
  siblings (``PathPrefix(`/wh`)`` serves ``/whatever``), proven by resolving a
  sibling request through the table;
* ``shadowed``: a route that matches requests of the corpus but never wins one;
* ``ambiguous``: matching routes of equal priority with different backends
  (Traefik's order between them is undefined);
* ``broken``: a route Traefik would disable (unknown Service, port or
  middleware, a rule that does not parse);
* ``host-mismatch``: routes of one table that serve different hosts, or a route
  without a ``Host`` beside routes with one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from . import corpus as corpus_mod
from .request import Request
from .table import Route, RoutingTable

__all__ = ["Lint", "lint", "LINT_KINDS"]

LINT_KINDS = ("prefix-leak", "shadowed", "ambiguous", "broken", "host-mismatch")


@dataclass(frozen=True)
class Lint:
    kind: str
    route: str          # the route's source, e.g. "IngressRoute/webhook routes[0]"
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.route}: {self.message}"


def _hosts(route: Route) -> frozenset[str]:
    return frozenset(m.args[0].lower() for m in route.rule.matchers("Host")) if route.rule else frozenset()


def _sample_host(route: Route, table: RoutingTable) -> str:
    hosts = sorted(_hosts(route)) or table.hosts or [corpus_mod.OTHER_HOST]
    return hosts[0]


def _prefix_leaks(table: RoutingTable) -> list[Lint]:
    out = []
    for route in table.routes:
        if not route.active:
            continue
        for m in route.rule.matchers("PathPrefix"):
            prefix = m.args[0]
            if prefix.endswith("/"):
                continue
            host = _sample_host(route, table)
            leaked = []
            for sibling in (prefix + "atever", prefix + "-x", prefix + "x"):
                d = table.resolve(Request("GET", host, sibling, entry_point=(route.entry_points or [None])[0]))
                if d.route is route:
                    leaked.append(sibling)
            if leaked:
                p = prefix
                out.append(Lint("prefix-leak", route.source,
                                f"{m.text} is a string prefix: it also serves {', '.join(leaked)} "
                                f"(-> {route.backend}); use Path(`{p}`) || PathPrefix(`{p}/`)"))
    return out


def _shadowed_and_ambiguous(table: RoutingTable, requests: list[Request]) -> list[Lint]:
    matched: Counter = Counter()
    won: Counter = Counter()
    winners_over: dict[int, Counter] = {}
    ambiguous: dict[tuple[int, ...], str] = {}
    for req in requests:
        d = table.resolve(req)
        if d.status != 200:
            continue
        won[id(d.route)] += 1
        for r in [*d.candidates, *d.shadowed]:
            matched[id(r)] += 1
            if r is not d.route:
                winners_over.setdefault(id(r), Counter())[d.route.source] += 1
        if d.ambiguous:
            key = tuple(sorted(id(c) for c in d.candidates))
            ambiguous.setdefault(key, req.label())
    out = []
    for route in table.routes:
        if route.active and matched[id(route)] and not won[id(route)]:
            by = ", ".join(src for src, _ in winners_over.get(id(route), Counter()).most_common(3))
            out.append(Lint("shadowed", route.source,
                            f"{route.match} matches {matched[id(route)]} request(s) of the corpus but never "
                            f"wins: {by} take(s) them first (priority {route.priority})"))
    by_id = {id(r): r for r in table.routes}
    for key, example in ambiguous.items():
        routes = [by_id[i] for i in key]
        out.append(Lint("ambiguous", routes[0].source,
                        "equal priority %d with %s and different backends (%s); Traefik's order is undefined, "
                        "e.g. for %s" % (routes[0].priority, ", ".join(r.source for r in routes[1:]),
                                          ", ".join(r.backend for r in routes), example)))
    return out


def _broken(table: RoutingTable) -> list[Lint]:
    return [Lint("broken", r.source, f"Traefik would disable this route: {p}")
            for r in table.routes for p in r.all_problems]


def _host_mismatch(table: RoutingTable) -> list[Lint]:
    routes = [r for r in table.routes if r.rule is not None]
    sets = Counter(_hosts(r) for r in routes if _hosts(r))
    if not sets:
        return []
    common, _ = sets.most_common(1)[0]
    out = []
    for r in routes:
        hosts = _hosts(r)
        if not hosts and r.rule.matchers("HostRegexp"):
            continue
        if not hosts:
            out.append(Lint("host-mismatch", r.source, f"{r.match} has no Host: it serves every host, "
                                                        f"while the other routes serve {sorted(common)}"))
        elif hosts != common:
            out.append(Lint("host-mismatch", r.source, f"serves {sorted(hosts)}, while the other routes "
                                                        f"serve {sorted(common)}"))
    return out


def lint(table: RoutingTable, requests: list[Request] | None = None) -> list[Lint]:
    """Every finding for ``table`` (``requests``: the corpus to look for shadowed routes; generated)."""
    requests = corpus_mod.generate(table) if requests is None else requests
    return [*_broken(table), *_prefix_leaks(table), *_shadowed_and_ambiguous(table, requests),
            *_host_mismatch(table)]
