"""Graceful shutdown and rolling updates: a preStop sleep keeps an old pod serving
while Traefik drops its endpoint, the grace period outlasts the sleep, and the apps'
Deployments surge a new pod before taking an old one down."""

import pytest

from chart_data import APPS, SERVICES, WORKLOAD_KIND, workload

INFRA = [s for s in SERVICES if s not in APPS]  # nats, mongo


def main_container(m, svc):
    return workload(m, svc).container(svc)


@pytest.mark.parametrize("svc", APPS)
def test_apps_sleep_before_sigterm_by_default(default, svc):
    assert main_container(default, svc)["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


@pytest.mark.parametrize("svc", APPS)
def test_prestop_sleep_follows_the_value(render, svc):
    c = main_container(render({svc: {"lifecycle": {"preStopSleepSeconds": 12}}}), svc)
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 12


@pytest.mark.parametrize("svc", INFRA)
def test_infra_has_no_prestop_by_default(default, svc):
    assert "lifecycle" not in main_container(default, svc)


@pytest.mark.parametrize("svc", INFRA)
def test_infra_prestop_can_be_enabled(render, svc):
    c = main_container(render({svc: {"lifecycle": {"preStopSleepSeconds": 3}}}), svc)
    assert c["lifecycle"] == {"preStop": {"sleep": {"seconds": 3}}}


@pytest.mark.parametrize("svc", APPS)
def test_zero_sleep_removes_the_hook(render, svc):
    assert "lifecycle" not in main_container(render({svc: {"lifecycle": {"preStopSleepSeconds": 0}}}), svc)


def test_prestop_needs_no_shell(default):
    for svc in APPS:
        assert "exec" not in main_container(default, svc)["lifecycle"]["preStop"]


@pytest.mark.parametrize("svc", SERVICES)
def test_grace_period_default(default, svc):
    assert workload(default, svc).pod_spec["terminationGracePeriodSeconds"] == 30


@pytest.mark.parametrize("svc", SERVICES)
def test_grace_period_follows_the_value(render, svc):
    grace = {s: 40 + i for i, s in enumerate(SERVICES)}
    m = render({s: {"terminationGracePeriodSeconds": g} for s, g in grace.items()})
    assert workload(m, svc).pod_spec["terminationGracePeriodSeconds"] == grace[svc]


@pytest.mark.parametrize("svc", SERVICES)
def test_grace_period_exceeds_sleep_by_default(default, svc):
    w = workload(default, svc)
    sleep = w.container(svc).get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert w.pod_spec["terminationGracePeriodSeconds"] > sleep


@pytest.mark.parametrize("sleep,grace", [(30, 30), (40, 30), (6, 5)])
def test_sleep_not_below_grace_period_fails(render_fails, sleep, grace):
    render_fails({"api": {"lifecycle": {"preStopSleepSeconds": sleep}, "terminationGracePeriodSeconds": grace}},
                 match=r"api\.lifecycle\.preStopSleepSeconds .* must be lower than api\.terminationGracePeriodSeconds")


def test_zero_grace_period_allowed_without_sleep(render):
    w = workload(render({"www": {"terminationGracePeriodSeconds": 0, "lifecycle": {"preStopSleepSeconds": 0}}}),
                 "www")
    assert w.pod_spec["terminationGracePeriodSeconds"] == 0
    assert "lifecycle" not in w.container("www")


@pytest.mark.parametrize("svc", APPS)
def test_rolling_update_keeps_capacity_by_default(default, svc):
    assert workload(default, svc).path("spec.strategy") == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


@pytest.mark.parametrize("svc", APPS)
def test_strategy_is_overridable(render, svc):
    m = render({svc: {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}}}})
    assert workload(m, svc).path("spec.strategy.rollingUpdate") == {"maxUnavailable": "25%", "maxSurge": 2}


def test_recreate_drops_rolling_update(render):
    m = render({"api": {"updateStrategy": {"type": "Recreate"}}})
    assert workload(m, "api").path("spec.strategy") == {"type": "Recreate"}


def test_strategy_with_nothing_to_roll_fails(render_fails):
    render_fails({"ws": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}},
                 match=r"ws\.updateStrategy\.rollingUpdate: maxUnavailable and maxSurge cannot both be 0")


def test_nats_keeps_the_kubernetes_default_strategy(default):
    assert WORKLOAD_KIND["nats"] == "Deployment"
    assert workload(default, "nats").path("spec.strategy", None) is None


def test_overrides_render_schema_valid(render, validate_schemas):
    validate_schemas(render({
        "api": {"terminationGracePeriodSeconds": 60, "lifecycle": {"preStopSleepSeconds": 20},
                "updateStrategy": {"type": "Recreate"}},
        "nats": {"lifecycle": {"preStopSleepSeconds": 2}},
        "mongo": {"terminationGracePeriodSeconds": 120, "lifecycle": {"preStopSleepSeconds": 1}},
    }))


def test_a_chart_version_bump_replaces_no_pod(chart_dir, tmp_path):
    """Pod templates carry no chart version: `helm upgrade` to a new chart version with the same
    images restarts nothing (mongo-0 keeps its emptyDir data when persistence is off)."""
    import re
    import shutil

    from chartest import render_chart

    bumped = tmp_path / "chart"
    shutil.copytree(chart_dir, bumped)
    meta = bumped / "Chart.yaml"
    meta.write_text(re.sub(r"(?m)^version: .*$", "version: 99.0.0", meta.read_text()))

    def templates(chart):
        return {f"{r.kind}/{r.name}": r.path("spec.template") for r in render_chart(chart).workloads
                if r.kind != "Pod"}

    before, after = templates(chart_dir), templates(bumped)
    assert before and before == after


def test_unset_grace_period_is_30_seconds(render):
    m = render({"ws": {"terminationGracePeriodSeconds": None}})
    assert workload(m, "ws").pod_spec["terminationGracePeriodSeconds"] == 30


def test_unset_prestop_sleep_renders_no_hook(render):
    assert "lifecycle" not in main_container(render({"api": {"lifecycle": {"preStopSleepSeconds": None}}}), "api")
