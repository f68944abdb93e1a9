"""The routing corpus through the cluster's Traefik: it must agree with the predictor and the local Traefik.

The routing table comes from what helm installed (``Release.manifest()``);
the generated corpus (literal paths, one character more or less, trailing
slashes, percent-encodings, dot segments, case changes, other hosts, methods,
websocket upgrades) is sent exactly as written to the deployed Traefik, and
the service that answered is told by what it answers (:func:`service_of`).
The same corpus goes through the pinned Traefik started locally on the same
routes, so a disagreement says which of the three differs.

What a real service tells about itself: api answers JSON only; www adds its
Content-Security-Policy to every HTTP answer; ws answers plain text and is the
only one completing a websocket upgrade (on ``/ws`` only); api redirects a
trailing slash (``/wh/`` -> ``/wh``, no body); Traefik's own 404 says "404 page
not found". A websocket upgrade on another path routed to ws is
refused by ws itself, so for upgrades the check is "ws completes it" exactly
when the prediction is ws on ``/ws``, and "nobody completes it" when the
prediction is not ws.
"""

from __future__ import annotations

import pytest

from chartest.routing import (Decision, Observed, Request, RoutingTable, compare, generate_corpus,
                              ingress_target, send)


def service_of(obs: Observed) -> str | None:
    """Which webhooks service sent this answer (``None``: Traefik itself, no route)."""
    if obs.status == 101:
        return "ws"
    ctype = obs.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        return "api"
    if "content-security-policy" in obs.headers:
        return "www"
    if 300 <= obs.status < 400:
        return "api"  # Starlette's trailing-slash redirect (/wh/ -> /wh); www's would carry its CSP
    if obs.status == 404 and "404 page not found" in obs.detail:
        return None
    if ctype.startswith("text/plain"):
        return "ws"
    return f"unknown ({obs.status} {ctype or 'no content type'})"


def disagreement(d: Decision, obs: Observed) -> str | None:
    """Why the cluster's answer differs from the prediction ``d`` (``None``: it agrees)."""
    req = d.request
    if d.status == 400:
        return None if obs.status == 400 else f"predicted 400, cluster answered {obs.status}"
    if req.websocket:
        if d.service == "ws" and d.upstream_path == "/ws":
            return None if obs.status == 101 else f"predicted ws completes the upgrade, got {obs.status}"
        if d.service != "ws":
            return None if obs.status != 101 else f"predicted {d.service}, but a websocket upgrade completed"
        return None  # routed to ws on another path: ws refuses it itself, not observable
    got = service_of(obs)
    if got == d.service:
        return None
    return f"predicted {d.service or 'no route'}, cluster answered from {got} ({obs.status})"


def through_cluster(traefik_url: str, table: RoutingTable, corpus: list[Request]) -> list[str]:
    """Every request of ``corpus`` where the Traefik at ``traefik_url`` and the predictor disagree."""
    host, port = ingress_target(traefik_url)
    pool: dict = {}
    out = []
    try:
        for req in corpus:
            d = table.resolve(req)
            obs = send(host, port, Request(req.method, req.host, req.target, req.headers, req.websocket), pool)
            if why := disagreement(d, obs):
                out.append(f"{req.label()}: {why}")
    finally:
        for conn in pool.values():
            conn.close()
    return out


@pytest.fixture(scope="module")
def local_services(tmp_path_factory):
    """The real webhooks services (and NATS, FerretDB) as local processes: no cluster."""
    from webhooks_testing.local_stack import Stack

    with Stack(tmp_path_factory.mktemp("routing-stack")) as stack:
        yield {"api:80": stack.api.url, "ws:80": stack.ws.url, "www:80": stack.www.url}


@pytest.mark.parametrize("rules", ["strict", "seed"])
def test_real_services_behind_the_local_traefik_agree(routing_table, local_services, rules):
    """The corpus through the pinned Traefik in front of the real services: proves the way this module
    tells the services apart (:func:`service_of`) before a cluster is involved."""
    from chartest.routing import LocalTraefik

    table = routing_table({"ingressRoute": {"rules": rules}})
    corpus = generate_corpus(table)
    with LocalTraefik(table, backend_urls=local_services) as traefik:
        out = through_cluster(traefik.url(), table, corpus)
    assert not out, f"{len(out)} of {len(corpus)} requests disagree:\n  " + "\n  ".join(out)


@pytest.fixture(scope="module")
def installed_table(webhooks_app) -> RoutingTable:
    return RoutingTable.from_manifests(webhooks_app.manifest())


def test_cluster_agrees_with_predictor_and_local_traefik(installed_table, traefik, local_traefik):
    corpus = generate_corpus(installed_table)
    assert len(corpus) >= 500
    local = compare(installed_table, corpus, local_traefik(installed_table).ask_all(corpus))
    cluster = through_cluster(traefik, installed_table, corpus)
    assert not local and not cluster, (
        f"local Traefik vs predictor, {len(local)} disagreement(s):\n  " + "\n  ".join(local)
        + f"\ncluster Traefik vs predictor, {len(cluster)} disagreement(s):\n  " + "\n  ".join(cluster))


# The boundary cases of the contract, with the chart's default (strict) rules: one line each.
BOUNDARIES = [
    ("GET", "/wh", "api"), ("GET", "/wh/info", "api"), ("GET", "/data", "api"), ("GET", "/stats", "api"),
    ("GET", "/whatever", "www"), ("GET", "/wh-x", "www"), ("GET", "/datafoo", "www"),
    ("GET", "/statsx", "www"), ("GET", "/wsx", "www"), ("GET", "/%77h/info", "api"),
    ("GET", "/wh%2Finfo", "www"), ("GET", "/x/../stats", "api"),
]


@pytest.mark.parametrize(("method", "path", "service"), BOUNDARIES,
                         ids=[f"{m} {p} -> {s}" for m, p, s in BOUNDARIES])
def test_boundary(webhooks_app, traefik, installed_table, method, path, service):
    host, port = ingress_target(traefik)
    domain = webhooks_app.values["domain"]
    assert installed_table.resolve(Request(method, domain, path)).service == service
    assert service_of(send(host, port, Request(method, domain, path))) == service


def test_seed_rules_leak_in_the_cluster(helm_release, traefik, local_traefik):
    """The seed's bug on a real cluster: with ``ingressRoute.rules=seed`` GET /whatever reaches api."""
    domain = "seed.webhooks.localhost"
    release = helm_release({"domain": domain, "ingressRoute": {"rules": "seed"}})
    table = RoutingTable.from_manifests(release.manifest())
    host, port = ingress_target(traefik)
    for path, service in [("/whatever", "api"), ("/datafoo", "api"), ("/statsx", "api"), ("/wsx", "ws"),
                          ("/", "www")]:
        req = Request("GET", domain, path)
        assert table.resolve(req).service == service
        assert local_traefik(table).ask(Request("GET", domain, path)).service == service
        assert service_of(send(host, port, Request("GET", domain, path))) == service
