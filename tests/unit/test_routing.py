"""The Traefik IngressRoute (seed routes, exact order) and the Ingress alternative."""

import pytest

DOMAIN = "webhooks.example.test"

# The seed's routing table, in order: (match, service, port).
ROUTES = [
    ("Host(`{d}`) && (PathPrefix(`/wh`) || PathPrefix(`/data`) || PathPrefix(`/stats`))", "api", 80),
    ("Host(`{d}`) && PathPrefix(`/ws`)", "ws", 80),
    ("Host(`{d}`)", "www", 80),
]


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
