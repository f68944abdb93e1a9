"""NetworkPolicies: default deny plus exactly the documented flows."""

import pytest

from chart_data import SERVICES, workload


def selects(policy, pod_labels):
    ml = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(pod_labels.get(k) == v for k, v in ml.items())


def policies_for(m, svc):
    w = workload(m, svc)
    return [p for p in m.of_kind("NetworkPolicy") if selects(p, w.pod_labels)]


def allowed_peers(m, svc):
    """{(source component or 'ingress-controller', port)} allowed into svc's pods."""
    out = set()
    for p in policies_for(m, svc):
        for rule in p["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                comp = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
                src = comp if comp and "namespaceSelector" not in peer else "ingress-controller"
                for port in rule.get("ports", []):
                    out.add((src, port["port"]))
    return out


EXPECTED = {
    "api": {("ingress-controller", "http"), ("acceptance-test", "http")},   # + the `helm test` pod
    "ws": {("ingress-controller", "http"), ("acceptance-test", "http")},
    "www": {("ingress-controller", "http")},
    "mongo": {("api", "mongo"), ("ws", "mongo")},
    "nats": {("api", "client"), ("ws", "client")},
}


@pytest.mark.parametrize("svc", SERVICES)
def test_default_deny_covers_every_pod(default, svc):
    deny = default.get("NetworkPolicy", "default-deny")
    assert selects(deny, workload(default, svc).pod_labels)
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]


@pytest.mark.parametrize("svc", SERVICES)
def test_allowed_flows(default, svc):
    assert allowed_peers(default, svc) == EXPECTED[svc]


@pytest.mark.parametrize("svc", SERVICES)
def test_named_ports_exist_on_target(default, svc):
    names = {p["name"] for p in workload(default, svc).container(svc)["ports"]}
    for _, port in allowed_peers(default, svc):
        assert port in names


def test_ingress_controller_selector_default_and_override(default, render):
    peer = default.get("NetworkPolicy", "api-from-ingress")["spec"]["ingress"][0]["from"][0]
    assert peer == {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}
    m = render({"networkPolicy": {"ingressNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}},
                                  "ingressPodSelector": {"matchLabels": {"app": "proxy",
                                                                          "app.kubernetes.io/name": None}}}})
    peer = m.get("NetworkPolicy", "ws-from-ingress")["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}
    assert peer["podSelector"] == {"matchLabels": {"app": "proxy"}}


def test_www_cannot_reach_mongo_or_nats(default):
    for svc in ("mongo", "nats"):
        assert "www" not in {src for src, _ in allowed_peers(default, svc)}


def test_disabled(render):
    assert not render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_egress_policies(render):
    m = render({"networkPolicy": {"egress": {"enabled": True}}})
    assert m.get("NetworkPolicy", "default-deny")["spec"]["policyTypes"] == ["Ingress", "Egress"]
    dns = m.get("NetworkPolicy", "egress-dns")["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    for app in ("api", "ws"):
        rules = m.get("NetworkPolicy", f"{app}-egress")["spec"]["egress"]
        targets = {r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: r["ports"][0]["port"]
                   for r in rules if "to" in r}
        assert targets == {"mongo": 27017, "nats": 4222}
    assert m.maybe("NetworkPolicy", "www-egress") is None


def test_egress_to_external_mongo(render):
    m = render({"networkPolicy": {"egress": {"enabled": True}}, "mongo": {"url": "mongodb://ext:27017/db"}})
    rules = m.get("NetworkPolicy", "api-egress")["spec"]["egress"]
    assert {"ports": [{"port": 27017, "protocol": "TCP"}]} in rules


def test_ingress_from_any_pod_of_the_selected_namespaces(render):
    m = render({"networkPolicy": {"ingressNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}},
                                  "ingressPodSelector": None}})
    peer = m.get("NetworkPolicy", "www-from-ingress")["spec"]["ingress"][0]["from"][0]
    assert peer == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}, "podSelector": {}}


def test_dns_egress_selectors_follow_the_values(render):
    m = render({"networkPolicy": {"egress": {
        "enabled": True, "dnsNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "dnsPodSelector": None}}})
    to = m.get("NetworkPolicy", "egress-dns")["spec"]["egress"][0]["to"][0]
    assert to == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {}}
