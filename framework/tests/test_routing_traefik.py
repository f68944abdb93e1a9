"""The routing tier on manifests of its own: the predictor against the real Traefik, lints, conversion.

Every table here goes through ``assert_traefik_agrees``: the generated corpus
(plus hand-written requests for the matchers the corpus cannot guess) is
answered by the predictor and by the pinned Traefik binary started on
loopback, and every disagreement is listed.
"""

from pathlib import Path

import pytest

from chartest.routing import LocalTraefik, Request, RoutingTable, generate_corpus, lint


def service(name, *ports):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"name": f"p{p}", "port": p} for p in ports]}}


def ingressroute(name, routes, entry_points=("web",)):
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": name},
            "spec": {"entryPoints": list(entry_points), "routes": routes}}


def route(match, svc, port=80, priority=None, middlewares=()):
    r = {"match": match, "kind": "Rule", "services": [{"name": svc, "port": port}]}
    if priority:
        r["priority"] = priority
    if middlewares:
        r["middlewares"] = [{"name": m} for m in middlewares]
    return r


def middleware(name, spec):
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": name}, "spec": spec}


H = "shop.test"
SERVICES = [service("front", 80), service("api", 80, 8080), service("admin", 9000), service("static", 80)]

# Everything the rule language and the providers offer, in one table.
FEATURES = SERVICES + [
    middleware("strip-api", {"stripPrefix": {"prefixes": ["/api"]}}),
    middleware("add-v1", {"addPrefix": {"prefix": "/v1"}}),
    middleware("rewrite", {"replacePathRegex": {"regex": "^/old/(.*)", "replacement": "/new/$1"}}),
    ingressroute("shop", [
        route(f"Host(`{H}`) && PathPrefix(`/api`)", "api", middlewares=["strip-api"]),
        route(f"Host(`{H}`) && Path(`/api/health`)", "api", 8080),                      # longer: wins
        route(f"Host(`{H}`) && PathPrefix(`/old/`)", "static", middlewares=["rewrite"]),
        route(f"Host(`{H}`) && Method(`POST`) && PathPrefix(`/upload`)", "api", middlewares=["add-v1"]),
        route(f"Host(`{H}`) && Header(`X-Debug`, `1`)", "admin", 9000, priority=500),
        route(f"Host(`{H}`) && Query(`preview`, `yes`)", "static", priority=400),
        route(f"Host(`{H}`) && PathRegexp(`\\.(css|js)$`)", "static"),
        route(f"Host(`{H}`) && !PathPrefix(`/api`) && ClientIP(`10.0.0.0/8`)", "admin", 9000),
        route(f"HostRegexp(`^[a-z]+\\.shop\\.test$`) && PathPrefix(`/`)", "static"),
        route(f"Host(`{H}`)", "front", priority=1),                                     # explicit, lowest
        route(f"Host(`{H}`) && Header(`Upgrade`, `websocket`)", "api", 8080),
    ]),
    ingressroute("admin", [route("PathPrefix(`/`)", "admin", 9000)], entry_points=["admin"]),
]

EXTRA_REQUESTS = [
    Request("GET", H, "/api/users"), Request("GET", H, "/api/health"), Request("GET", H, "/apiary"),
    Request("GET", H, "/old/a/b"), Request("POST", H, "/upload/x"), Request("GET", H, "/upload/x"),
    Request("GET", H, "/x", [("X-Debug", "1")]), Request("GET", H, "/x?preview=yes"),
    Request("GET", H, "/x?preview=no"), Request("GET", H, "/site.css"), Request("GET", H, "/site.css?x=1"),
    Request("GET", "eu.shop.test", "/"), Request("GET", "EU.shop.test:443", "/x"), Request("GET", "a.b.shop.test", "/"),
    Request("GET", H, "/chat", websocket=True), Request("GET", H, "/", entry_point="admin"),
    Request("GET", "any.host", "/x", entry_point="admin"), Request("GET", H, "/a%zz"),
]


@pytest.fixture(scope="module")
def features():
    return RoutingTable.from_manifests(FEATURES)


def test_predictor_and_traefik_agree_on_every_feature(features, assert_traefik_agrees):
    requests = generate_corpus(features) + EXTRA_REQUESTS
    assert len(requests) > 100
    assert_traefik_agrees(features, requests)


@pytest.mark.parametrize("method,target,headers,backend,upstream", [
    ("GET", "/api/users", [], "api:80", "/users"),          # StripPrefix
    ("GET", "/api/health", [], "api:8080", "/api/health"),  # the longer rule wins
    ("GET", "/apiary", [], "api:80", "/ary"),               # the leak, stripped: what a backend then sees
    ("GET", "/old/a/b", [], "static:80", "/new/a/b"),       # ReplacePathRegex
    ("POST", "/upload/x", [], "api:80", "/v1/upload/x"),    # AddPrefix
    ("GET", "/upload/x", [], "front:80", "/upload/x"),      # Method mismatch falls through
    ("GET", "/x", [("X-Debug", "1")], "admin:9000", "/x"),  # explicit priority
])
def test_upstream_paths_through_real_traefik(features, local_traefik, method, target, headers, backend, upstream):
    r = Request(method, H, target, headers)
    predicted = features.resolve(r)
    assert (predicted.backend, predicted.upstream_path) == (backend, upstream)
    seen = local_traefik(features).ask(Request(method, H, target, headers))
    assert (seen.backend, seen.upstream_path) == (backend, upstream)


def test_entry_points_separate_routes(features, local_traefik):
    r = Request("GET", H, "/", entry_point="admin")
    assert features.resolve(r).backend == "admin:9000"
    assert local_traefik(features).ask(Request("GET", H, "/", entry_point="admin")).backend == "admin:9000"
    assert features.resolve(Request("GET", H, "/")).backend == "front:80"


def test_explanation_names_rule_priority_and_near_misses(features):
    text = features.predict("GET", f"http://{H}/apiary").explain()
    assert "-> api:80" in text and "PathPrefix(`/api`)" in text and "priority" in text
    text = features.predict("GET", f"http://{H}/upload/x").explain()
    assert "near miss" in text and "method is GET, not Method(`POST`)" in text


# -- Ingress conversion ---------------------------------------------------------------------------

def ingress(paths, host=H, annotations=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "ing", "annotations": annotations or {}},
            "spec": {"rules": [{"host": host, "http": {"paths": [
                {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}}
                for p, t, s in paths]}}]}}


INGRESS = SERVICES + [ingress([("/api", "Prefix", "api"), ("/exact", "Exact", "static"),
                               ("/legacy", "ImplementationSpecific", "static"), ("/", "Prefix", "front")]),
                      ingress([("/", "Prefix", "static")], host="*.cdn.test")]


@pytest.mark.parametrize("strict", [False, True], ids=["traefik-default", "strictPrefixMatching"])
def test_ingress_paths_agree_with_traefik(strict, assert_traefik_agrees):
    table = RoutingTable.from_manifests(INGRESS, strict_prefix_matching=strict)
    assert table.predict("GET", f"http://{H}/apiary").service == ("front" if strict else "api")
    assert table.predict("GET", f"http://{H}/exact/").service == "front"
    assert table.predict("GET", "http://img.cdn.test/x").service == "static"
    assert_traefik_agrees(table, generate_corpus(table, hosts=[H, "img.cdn.test"]))


def test_ingress_annotations():
    doc = ingress([("/a", "ImplementationSpecific", "api")], annotations={
        "traefik.ingress.kubernetes.io/router.priority": "7",
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.pathmatcher": "Path"})
    (r,) = RoutingTable.from_manifests(SERVICES + [doc]).routes
    assert (r.match, r.priority, r.entry_points) == (f"Host(`{H}`) && Path(`/a`)", 7, ["websecure"])


# -- lints --------------------------------------------------------------------------------------

def kinds(findings):
    return sorted({f.kind for f in findings})


def test_lints_find_leaks_shadows_ties_broken_routes_and_hosts():
    table = RoutingTable.from_manifests(SERVICES + [ingressroute("bad", [
        route(f"Host(`{H}`) && PathPrefix(`/app`)", "api"),
        route(f"Host(`{H}`) && PathPrefix(`/app/v2`)", "api", priority=1),        # never wins
        route(f"Host(`{H}`) && Path(`/same`)", "front", priority=50),
        route(f"Host(`{H}`) && PathPrefix(`/same`)", "static", priority=50),      # tie, other backend
        route(f"Host(`{H}`) && Path(`/gone`)", "missing"),                        # no such Service
        route(f"Host(`{H}`) && Path(`/port`)", "api", 81),                        # no such port
        route(f"Host(`{H}`) && Path(`/mw`)", "api", middlewares=["nope"]),        # no such Middleware
        route("Host(`other.test`) && Path(`/x`)", "front"),                       # another host
        route("Path(`/nohost`)", "front"),                                        # every host
    ])])
    found = lint(table)
    text = "\n".join(map(str, found))
    assert kinds(found) == ["ambiguous", "broken", "host-mismatch", "prefix-leak", "shadowed"], text
    assert "[prefix-leak] IngressRoute/bad routes[0]: PathPrefix(`/app`)" in text
    assert "[shadowed] IngressRoute/bad routes[1]" in text
    assert "Service 'missing' is not part of the render" in text
    assert "has no port 81" in text and "Middleware 'nope'" in text
    assert "routes[7]: serves ['other.test']" in text and "routes[8]: Path(`/nohost`) has no Host" in text
    assert table.predict("GET", f"http://{H}/same").ambiguous


def test_clean_table_has_no_lints(routing_lints):
    table = RoutingTable.from_manifests(SERVICES + [ingressroute("ok", [
        route(f"Host(`{H}`) && (Path(`/api`) || PathPrefix(`/api/`))", "api"),
        route(f"Host(`{H}`)", "front")])])
    assert routing_lints(table) == []


def test_traefik_refuses_what_the_predictor_refuses(local_traefik):
    table = RoutingTable.from_manifests(SERVICES + [ingressroute("r", [
        route("PathPrefix(`nope`)", "api"), route("PathPrefix(`/`)", "front")])])
    bad = [r for r in table.routes if r.rule_error]
    assert len(bad) == 1 and "does not start with a '/'" in bad[0].rule_error
    traefik = local_traefik(table)
    assert len(traefik.refused) == 1 and "does not start with a '/'" in next(iter(traefik.refused.values()))
    assert traefik.ask(Request("GET", H, "nope")).status == 400


def test_local_traefik_starts_fast():
    table = RoutingTable.from_manifests(FEATURES)
    with LocalTraefik(table) as traefik:
        assert traefik.start_seconds < 5
        assert traefik.ask(Request("GET", H, "/")).backend == "front:80"


def test_local_traefik_generates_no_certificate():
    """The local Traefik gets the backends' throwaway certificate for its default TLS store, in its
    first configuration: else it generates a 2048-bit RSA key, most of its start-up CPU."""
    from chartest import MissingTool, unavailable
    from chartest.routing.backends import echo_program

    try:
        echo_program()
    except MissingTool as exc:
        unavailable(f"chartest-echo (which writes the certificate) does not build here: {exc}")
    with LocalTraefik(RoutingTable.from_manifests(FEATURES), log_level="DEBUG") as traefik:
        log = traefik.log()
    assert "Configuration received" in log  # Traefik's debug lines are there to be read
    assert "fallback to the internal generated certificate" not in log


def test_a_local_traefik_that_cannot_start_leaves_nothing_behind(monkeypatch):
    """Whether Traefik exits at once or its backends fail to start, start() raises and removes what
    it made (the temporary directory with the configuration, the certificate and the log)."""
    from chartest.routing import live

    table = RoutingTable.from_manifests(FEATURES)
    made = []
    real = live.tempfile.TemporaryDirectory
    monkeypatch.setattr(live.tempfile, "TemporaryDirectory", lambda **kw: made.append(real(**kw)) or made[-1])
    exiting = LocalTraefik(table, binary="/bin/false")
    with pytest.raises(RuntimeError, match="traefik exited with 1"):
        exiting.start()

    class Refusing(live.Backends):
        def start(self):
            raise OSError("no backends today")

    monkeypatch.setattr(live, "Backends", Refusing)
    with pytest.raises(OSError, match="no backends today"):
        LocalTraefik(table).start()
    assert len(made) == 2 and not any(Path(t.name).exists() for t in made)
    assert exiting.log() == ""


def test_random_paths_agree_with_traefik(features, assert_traefik_agrees):
    """Paths built at random from the pieces that trip routers: encodings, dot segments, reserved characters."""
    import random

    rnd = random.Random(9)
    atoms = ["/", "/", "a", "api", "old", "upload", "health", ".css", ".", "..", "%2F", "%2f", "%2e", "%41",
             "%61", "%20", "%25", "%3B", ";", "!", "~", "-", "%", "%zz", "?", "&", "=", "%3F", "+", "@", ":",
             "'", "(", "*", "%C3%A9"]
    requests = [Request(rnd.choice(["GET", "POST", "DELETE"]), rnd.choice([H, "eu.shop.test", "Shop.Test"]),
                        "/" + "".join(rnd.choice(atoms) for _ in range(rnd.randint(0, 6))))
                for _ in range(600)]
    assert_traefik_agrees(features, requests)


ECHO_REQUESTS = [
    Request("GET", "shop.test", "/a/b?x=1"),
    Request("HEAD", "shop.test", "/head"),
    Request("POST", "shop.test", "/data", headers=[("Content-Type", "application/json")]),
    Request("GET", "shop.test", "/%77h/../x%2Fy"),
    Request("GET", "shop.test", "/ws?token=1", websocket=True),
]


def test_go_backends_answer_as_the_python_ones():
    """chartest-echo (Go) and the in-process Python backends, asked the same requests directly:
    the same status, backend name and raw path (the fallback is the same instrument)."""
    from chartest import MissingTool, unavailable
    from chartest.routing.backends import Backends, echo_program
    from chartest.routing.live import ingress_target, send

    try:
        echo_program()
    except MissingTool as exc:
        unavailable(f"chartest-echo does not build here: {exc}")
    answers = {}
    for in_process in (False, True):
        with Backends(["api:80", "www:8080"], in_process=in_process) as backends:
            assert (backends._program is None) == in_process  # the Go program served, where go builds it
            answers[in_process] = [
                (o.status, o.backend, o.upstream_path)
                for name in ("api:80", "www:8080")
                for o in [send(*ingress_target(backends.url(name)), req) for req in ECHO_REQUESTS]]
    assert answers[False] == answers[True]
    assert answers[False][0] == (200, "api:80", "/a/b") and answers[False][4][:2] == (101, "api:80")
    assert answers[False][3][2] == "/wh/../x/y"  # the raw target, as received (its escapes undone once)
