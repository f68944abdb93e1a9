"""X-Forwarded-For is believed only from the ingress: TRUSTED_PROXIES on every service behind Traefik."""

import pytest

APPS = ("api", "ws", "www")


@pytest.mark.parametrize("svc", APPS)
def test_nobody_is_trusted_by_default(default, svc):
    assert default.get("Deployment", svc).env(svc)["TRUSTED_PROXIES"] == ""


@pytest.mark.parametrize("svc", APPS)
def test_trusted_proxies_reach_every_service(render, svc):
    m = render({"trustedProxies": ["10.244.0.0/16", "fd00::/8"]})
    assert m.get("Deployment", svc).env(svc)["TRUSTED_PROXIES"] == "10.244.0.0/16,fd00::/8"


@pytest.mark.parametrize("svc", ["nats", "mongo"])
def test_infrastructure_gets_no_proxy_setting(default, svc):
    kind = "StatefulSet" if svc == "mongo" else "Deployment"
    assert "TRUSTED_PROXIES" not in default.get(kind, svc).env(svc)


@pytest.mark.parametrize("bad", ["*", "any", "10.0.0.0/8,*"])
def test_wildcards_and_names_are_refused(render_fails, bad):
    render_fails({"trustedProxies": [bad]}, match="trustedProxies")
