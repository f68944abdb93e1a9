"""The routing tier: which Service:port answers ``METHOD host path``, from a render, in seconds.

Two answers to compare: :meth:`RoutingTable.resolve` (a pure-Python
predictor of Traefik v3's rule language, instant) and :class:`LocalTraefik`
(the real pinned Traefik on loopback with the file provider and tiny local
backends, no cluster). :func:`generate_corpus` generates the requests where routing
bugs live, :func:`lint` names the routes that leak, shadow or point nowhere.

    table = RoutingTable.from_manifests(render_chart("chart"))
    table.predict("GET", "http://webhooks.localhost/whatever").service   # "www"
"""

from __future__ import annotations

from .corpus import generate as generate_corpus
from .lints import Lint, lint
from .live import LocalTraefik, Observed, ingress_target, send, traefik_binary
from .request import BadRequest, Request, routing_path
from .rules import Rule, RuleError, default_priority, parse_rule
from .table import Decision, Route, RoutingTable

__all__ = ["RoutingTable", "Route", "Decision", "Request", "BadRequest", "routing_path", "Rule", "RuleError",
           "parse_rule", "default_priority", "LocalTraefik", "Observed", "send", "traefik_binary",
           "generate_corpus", "lint", "Lint", "compare", "ingress_target"]


def compare(table: RoutingTable, requests: list[Request], observed: list[Observed],
            check_path: bool = True) -> list[str]:
    """Every request where the predictor and a real Traefik disagree, one line each."""
    out = []
    for req, obs in zip(requests, observed):
        d = table.resolve(req)
        want_status = {200: (200, 101), 404: (404,), 400: (400,)}[d.status]
        if obs.status not in want_status and not (d.status == 200 and obs.backend):
            out.append(f"{req.label()}: predicted status {d.status}, Traefik answered {obs.status}")
        elif obs.backend not in d.possible_backends:
            out.append(f"{req.label()}: predicted {d.backend or 'no backend'} "
                       f"({d.route.source if d.route else d.reason}), Traefik sent it to {obs.backend or 'none'} "
                       f"(status {obs.status})")
        elif check_path and d.route and obs.upstream_path is not None and obs.upstream_path != d.upstream_path:
            out.append(f"{req.label()}: predicted upstream path {d.upstream_path!r}, the backend got "
                       f"{obs.upstream_path!r}")
    return out
