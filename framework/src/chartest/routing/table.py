"""The routing table of a render, and the predictor: which Service:port answers a request.

:meth:`RoutingTable.from_manifests` turns Traefik ``IngressRoute`` resources
(``traefik.io/v1alpha1``, and the old ``traefik.containo.us`` group) and
``networking.k8s.io/v1`` Ingresses into :class:`Route` s, the way Traefik's
Kubernetes providers build routers: an Ingress path becomes ``Path`` (Exact) or
``PathPrefix`` (Prefix, ImplementationSpecific), a wildcard host a
``HostRegexp``; priorities, entry points and the path-changing middlewares of
the render are resolved. A route Traefik would refuse (unknown Service or
port, missing middleware, a rule that does not parse) is kept with its
``problems`` and never matches, as Traefik disables it.

:meth:`RoutingTable.resolve` is the predictor: routers sorted by priority,
highest first, the first matching one wins. Traefik sorts routers of equal
priority in no defined order, so a tie between matching routes with
different backends is reported as ``ambiguous`` rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .middlewares import PathMiddleware, from_spec
from .request import BadRequest, Request
from .rules import Rule, RuleError, default_priority, parse_rule

__all__ = ["Route", "Decision", "RoutingTable"]

INGRESSROUTE_GROUPS = ("traefik.io/", "traefik.containo.us/")
ANN = "traefik.ingress.kubernetes.io/"
DEFAULT_BACKEND_PRIORITY = -(2 ** 31)


@dataclass
class Route:
    """One Traefik router as the render defines it."""

    source: str                      # "IngressRoute/webhook routes[0]"
    match: str
    priority: int                    # effective: explicit, else the rule's length
    explicit_priority: int = 0
    entry_points: list[str] = field(default_factory=list)   # empty: every entry point
    backends: list[str] = field(default_factory=list)       # "service:port"
    middlewares: list[PathMiddleware] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)       # why Traefik would disable it
    tls: bool = False
    order: int = 0
    rule: Rule | None = None
    rule_error: str | None = None                           # the rule does not parse: Traefik refuses it

    @property
    def active(self) -> bool:
        return not self.problems and self.rule is not None

    @property
    def all_problems(self) -> list[str]:
        return self.problems + ([self.rule_error] if self.rule_error else [])

    @property
    def backend(self) -> str:
        return " + ".join(self.backends) or "-"

    def serves(self, entry_point: str | None) -> bool:
        return entry_point is None or not self.entry_points or entry_point in self.entry_points

    def matches(self, req: Request) -> bool:
        return self.active and self.rule.matches(req)  # type: ignore[union-attr]

    def upstream_path(self, url_path: str) -> str:
        for mw in self.middlewares:
            url_path = mw.apply(url_path)
        return url_path or "/"  # an empty path goes out as "/"

    def describe(self) -> str:
        how = "explicit" if self.explicit_priority else "rule length"
        return f"{self.source}: {self.match}  [priority {self.priority}, {how}] -> {self.backend}"


@dataclass
class Decision:
    """What Traefik does with one request: status, the winning route, and the routes nearly taken."""

    request: Request
    status: int                      # 200 routed, 404 no route, 400 rejected before routing
    route: Route | None = None
    candidates: list[Route] = field(default_factory=list)   # matching routes of the winning priority
    upstream_path: str | None = None
    near_misses: list[tuple[Route, list[str]]] = field(default_factory=list)
    shadowed: list[Route] = field(default_factory=list)     # matching routes of lower priority
    reason: str = ""

    @property
    def backend(self) -> str | None:
        """The predicted Service:port (the first of a tie), ``None`` when nothing serves."""
        return self.route.backends[0] if self.route and self.route.backends else None

    @property
    def service(self) -> str | None:
        return self.backend.rsplit(":", 1)[0] if self.backend else None

    @property
    def possible_backends(self) -> set[str | None]:
        """Every answer Traefik may give (several only for a tie, or a weighted route)."""
        if not self.candidates:
            return {None}
        return {b for r in self.candidates for b in (r.backends or [None])}

    @property
    def ambiguous(self) -> bool:
        return len(self.possible_backends) > 1

    def explain(self) -> str:
        """The answer for a person: rule, priority, Service:port, and the near misses with why."""
        req = self.request
        lines = [f"{req.label()}"]
        if self.status == 400:
            lines.append(f"  -> 400 before routing: {self.reason}")
            return "\n".join(lines)
        lines.append(f"  routing path {req.routing_path!r}, host {req.canonical_host!r}"
                     + (f", entry point {req.entry_point}" if req.entry_point else ""))
        if self.route is None:
            lines.append("  -> 404: no route matches")
        else:
            r = self.route
            lines.append(f"  -> {r.backend}  (upstream path {self.upstream_path!r})")
            lines.append(f"     matched {r.source}: {r.match}")
            lines.append(f"     priority {r.priority} ({'explicit' if r.explicit_priority else 'rule length'})")
            if self.ambiguous:
                lines.append("     AMBIGUOUS: equal priority with " + ", ".join(
                    f"{c.source} -> {c.backend}" for c in self.candidates if c is not r)
                    + " (Traefik's order between them is undefined)")
            for mw in r.middlewares:
                if not mw.modelled:
                    lines.append(f"     note: middleware {mw.name} ({mw.kind}) is not modelled"
                                 + (" and may answer itself" if mw.may_answer else ""))
        for r in self.shadowed:
            lines.append(f"  also matched, lower priority: {r.source} [{r.priority}] -> {r.backend}")
        for r, why in self.near_misses:
            lines.append(f"  near miss {r.source} [{r.priority}] -> {r.backend}: " + "; ".join(why))
        return "\n".join(lines)


ROUTING_KINDS = {"IngressRoute", "Ingress", "Service", "Middleware"}  # what from_manifests reads


class RoutingTable:
    """Every route of a render, sorted as Traefik sorts routers; :meth:`resolve` predicts."""

    def __init__(self, routes: Iterable[Route], services: dict[str, list[dict]] | None = None,
                 source: str = ""):
        routes = list(routes)
        for i, r in enumerate(routes):
            r.order = i
        self.routes = sorted(routes, key=lambda r: (-r.priority, r.order))
        self.services = services or {}
        self.source = source
        # what from_manifests read, to build the same table again (the work plan keeps it)
        self.documents: list[dict] | None = None
        self.strict_prefix_matching = False

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def from_manifests(cls, manifests: Iterable[dict], strict_prefix_matching: bool = False,
                       source: str = "") -> "RoutingTable":
        """Routes of every IngressRoute and Ingress in ``manifests`` (a render, or any list of dicts).

        ``strict_prefix_matching`` mirrors the Ingress provider option of the same name
        (``Prefix`` paths become ``Path(p) || PathPrefix(p/)``); Traefik's default is off.
        """
        docs = [d for d in manifests if isinstance(d, dict)]
        services = {(d.get("metadata") or {}).get("name", ""): list((d.get("spec") or {}).get("ports") or [])
                    for d in docs if d.get("kind") == "Service"}
        middlewares = {(d.get("metadata") or {}).get("name", ""): d.get("spec") or {}
                       for d in docs if d.get("kind") == "Middleware"
                       and str(d.get("apiVersion", "")).startswith(INGRESSROUTE_GROUPS)}
        routes: list[Route] = []
        for d in docs:
            if d.get("kind") == "IngressRoute" and str(d.get("apiVersion", "")).startswith(INGRESSROUTE_GROUPS):
                routes += _ingressroute_routes(d, services, middlewares)
            elif d.get("kind") == "Ingress" and str(d.get("apiVersion", "")).startswith("networking.k8s.io/"):
                routes += _ingress_routes(d, services, middlewares, strict_prefix_matching)
        table = cls(routes, services, source)
        table.documents = [d for d in docs if d.get("kind") in ROUTING_KINDS]
        table.strict_prefix_matching = strict_prefix_matching
        return table

    # -- questions ----------------------------------------------------------------------------------
    @property
    def entry_points(self) -> list[str]:
        return sorted({ep for r in self.routes for ep in r.entry_points})

    @property
    def default_entry_point(self) -> str | None:
        """``web`` when a route uses it, else the first named entry point, else any."""
        eps = self.entry_points
        return "web" if "web" in eps or not eps else eps[0]

    @property
    def backends(self) -> list[str]:
        return sorted({b for r in self.routes if r.active for b in r.backends})

    @property
    def hosts(self) -> list[str]:
        return sorted({m.args[0].lower() for r in self.routes if r.rule for m in r.rule.matchers("Host")})

    def resolve(self, req: Request) -> Decision:
        """The predictor: what Traefik v3.6 does with ``req``."""
        if req.entry_point is None:
            req.entry_point = self.default_entry_point
        try:
            req.routing_path  # noqa: B018 - computes it, or raises for a 400
        except BadRequest as exc:
            return Decision(req, 400, reason=str(exc))
        routes = [r for r in self.routes if r.active and r.serves(req.entry_point)]
        matching = [r for r in routes if r.rule.matches(req)]  # type: ignore[union-attr]
        if not matching:
            near = [(r, r.rule.why_not(req)) for r in routes]  # type: ignore[union-attr]
            near.sort(key=lambda item: len(item[1]))
            return Decision(req, 404, near_misses=near[:6], reason="no route matches")
        top = matching[0].priority
        candidates = [r for r in matching if r.priority == top]
        winner = candidates[0]
        upstream = winner.upstream_path(req.url_path)
        higher = [r for r in routes if r.priority > top or (r.priority == top and r not in matching)]
        near = [(r, r.rule.why_not(req)) for r in higher]  # type: ignore[union-attr]
        near.sort(key=lambda item: len(item[1]))
        return Decision(req, 200, winner, candidates, upstream, near[:6],
                        [r for r in matching if r.priority < top])

    def predict(self, method: str, url: str, **kw: Any) -> Decision:
        """``table.predict("GET", "http://webhooks.localhost/whatever").service == "www"``."""
        return self.resolve(Request.from_url(method, url, **kw))

    def describe(self) -> str:
        lines = [f"{len(self.routes)} route(s), highest priority first:"]
        for r in self.routes:
            state = "" if r.active else f"  DISABLED: {'; '.join(r.all_problems)}"
            eps = ",".join(r.entry_points) or "*"
            lines.append(f"  [{r.priority:>4}] {eps:<10} {r.match}  -> {r.backend}{state}")
        return "\n".join(lines)


# -- conversion of the Kubernetes resources --------------------------------------------------------


def _backend(services: dict[str, list[dict]], name: str, port: Any, where: str) -> tuple[str, str | None]:
    """``("svc:80", None)``, or the id and the problem Traefik would log."""
    ports = services.get(name)
    if ports is None:
        return f"{name}:{port}", f"{where}: Service {name!r} is not part of the render"
    for p in ports:
        if port in (p.get("port"), p.get("name")) or str(port) == str(p.get("port")):
            return f"{name}:{p.get('port')}", None
    have = [p.get("port") for p in ports]
    return f"{name}:{port}", f"{where}: Service {name!r} has no port {port!r} (it has {have})"


def _middlewares(refs: list[dict | str], middlewares: dict[str, dict], where: str) -> tuple[list[PathMiddleware], list[str]]:
    out, problems = [], []
    for ref in refs:
        name = ref if isinstance(ref, str) else str(ref.get("name", ""))
        if "@" in name:  # another provider's middleware: kept by name, not modelled
            out.append(PathMiddleware(name, "external", {}))
            continue
        spec = middlewares.get(name)
        if spec is None:
            problems.append(f"{where}: Middleware {name!r} is not part of the render")
            continue
        out.append(from_spec(name, spec))
    return out, problems


def _finish(route: Route) -> Route:
    try:
        route.rule = parse_rule(route.match)
    except RuleError as exc:
        route.rule_error = f"{route.source}: {exc}"
    route.priority = route.explicit_priority or default_priority(route.match)
    return route


def _ingressroute_routes(doc: dict, services: dict, middlewares: dict) -> list[Route]:
    name = (doc.get("metadata") or {}).get("name", "")
    spec = doc.get("spec") or {}
    eps = list(spec.get("entryPoints") or [])
    out: list[Route] = []
    last_by_match: dict[str, Route] = {}
    for i, r in enumerate(spec.get("routes") or []):
        where = f"IngressRoute/{name} routes[{i}]"
        route = Route(where, str(r.get("match") or ""), 0, int(r.get("priority") or 0), eps,
                      tls=spec.get("tls") is not None)
        if r.get("kind") not in (None, "", "Rule"):
            route.problems.append(f"{where}: kind {r.get('kind')!r} is not supported (only Rule)")
        if not route.match:
            route.problems.append(f"{where}: empty match")
        if r.get("syntax") == "v2":
            route.problems.append(f"{where}: the v2 rule syntax is not modelled")
        for s in r.get("services") or []:
            if s.get("kind", "Service") != "Service":
                route.backends.append(f"{s.get('kind')}/{s.get('name')}")
                continue
            backend, problem = _backend(services, str(s.get("name")), s.get("port"), where)
            route.backends.append(backend)
            if problem:
                route.problems.append(problem)
        mws, problems = _middlewares(r.get("middlewares") or [], middlewares, where)
        route.middlewares, route.problems = mws, route.problems + problems
        if route.match in last_by_match:  # Traefik keys routers by a hash of the match: the last one wins
            earlier = last_by_match[route.match]
            earlier.problems.append(f"{earlier.source}: same match as {where}, which replaces it")
        last_by_match[route.match] = route
        out.append(_finish(route))
    return out


def _host_rule(host: str) -> str:
    if host.startswith("*."):
        import re

        return "HostRegexp(`^" + re.escape(host).replace(r"\*\.", "[a-zA-Z0-9-]+\\.", 1) + "$`)"
    return f"Host(`{host}`)"


def _path_rule(path: str, path_type: str | None, matcher: str, strict: bool) -> str:
    if path_type == "Exact":
        matcher = "Path"
    if strict and matcher == "PathPrefix":
        if path == "/":
            return "PathPrefix(`/`)"
        path = path.rstrip("/")
        return f"(Path(`{path}`) || PathPrefix(`{path}/`))"
    return f"{matcher}(`{path}`)"


def _ingress_routes(doc: dict, services: dict, middlewares: dict, strict: bool) -> list[Route]:
    meta = doc.get("metadata") or {}
    name, ann = meta.get("name", ""), meta.get("annotations") or {}
    spec = doc.get("spec") or {}
    priority = int(ann.get(ANN + "router.priority") or 0)
    eps = [e.strip() for e in str(ann.get(ANN + "router.entrypoints") or "").split(",") if e.strip()]
    matcher = ann.get(ANN + "router.pathmatcher") or "PathPrefix"
    mw_refs = [m.strip() for m in str(ann.get(ANN + "router.middlewares") or "").split(",") if m.strip()]
    # "namespace-name@kubernetescrd" names a Middleware of the render
    mw_names = [m.split("@")[0] for m in mw_refs]
    ns = meta.get("namespace")
    mw_names = [m[len(ns) + 1:] if ns and m.startswith(ns + "-") else m for m in mw_names]
    tls = bool(spec.get("tls"))
    out: list[Route] = []

    def backend_of(b: dict, where: str) -> tuple[str, str | None]:
        svc = (b or {}).get("service") or {}
        port = (svc.get("port") or {})
        return _backend(services, str(svc.get("name")), port.get("number", port.get("name")), where)

    if not spec.get("rules") and spec.get("defaultBackend"):
        where = f"Ingress/{name} defaultBackend"
        route = Route(where, "PathPrefix(`/`)", DEFAULT_BACKEND_PRIORITY, DEFAULT_BACKEND_PRIORITY, eps, tls=tls)
        backend, problem = backend_of(spec["defaultBackend"], where)
        route.backends.append(backend)
        route.problems += [problem] if problem else []
        out.append(_finish(route))
    for i, rule in enumerate(spec.get("rules") or []):
        host = rule.get("host") or ""
        for j, p in enumerate((rule.get("http") or {}).get("paths") or []):
            where = f"Ingress/{name} rules[{i}].paths[{j}]"
            parts = [_host_rule(host)] if host else []
            if p.get("path"):
                parts.append(_path_rule(p["path"], p.get("pathType"), matcher, strict))
            route = Route(where, " && ".join(parts), 0, priority, eps, tls=tls)
            backend, problem = backend_of(p.get("backend") or {}, where)
            route.backends.append(backend)
            route.problems += [problem] if problem else []
            mws, problems = _middlewares(mw_names, middlewares, where)
            route.middlewares, route.problems = mws, route.problems + problems
            out.append(_finish(route))
    return out
