"""Replicas of api, ws and www spread over nodes, so a drained or lost node leaves some running."""

import pytest

from chart_data import APPS, workload


@pytest.mark.parametrize("svc", APPS)
def test_replicas_spread_over_nodes_by_default(default, svc):
    w = workload(default, svc)
    [constraint] = w.pod_spec["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["maxSkew"] == 1
    assert constraint["whenUnsatisfiable"] == "ScheduleAnyway", "one node must still run every replica"
    assert constraint["nodeTaintsPolicy"] == "Honor"
    # counted over this component's pods only, and per ReplicaSet revision (rollouts spread too)
    assert constraint["labelSelector"]["matchLabels"] == w.path("spec.selector.matchLabels")
    assert constraint["matchLabelKeys"] == ["pod-template-hash"]


@pytest.mark.parametrize("svc", APPS)
def test_spread_values_reach_only_their_component(render, svc):
    m = render({s: {"replicas": 2, "spread": {"topologyKey": f"zone-{s}", "maxSkew": 2,
                                              "whenUnsatisfiable": "DoNotSchedule",
                                              "nodeTaintsPolicy": "Ignore"}} for s in APPS})
    [constraint] = workload(m, svc).pod_spec["topologySpreadConstraints"]
    assert constraint["topologyKey"] == f"zone-{svc}"
    assert (constraint["maxSkew"], constraint["whenUnsatisfiable"], constraint["nodeTaintsPolicy"]) == (
        2, "DoNotSchedule", "Ignore")


@pytest.mark.parametrize("svc", APPS)
def test_spread_can_be_turned_off(render, svc):
    m = render({svc: {"spread": {"enabled": False}}})
    assert "topologySpreadConstraints" not in workload(m, svc).pod_spec


@pytest.mark.parametrize("svc", ("mongo", "nats"))
def test_stateful_services_have_no_spread(default, svc):
    assert "topologySpreadConstraints" not in workload(default, svc).pod_spec


def test_spread_rejects_an_unknown_policy(render_fails):
    render_fails({"api": {"spread": {"whenUnsatisfiable": "Sometimes"}}}, "whenUnsatisfiable")
