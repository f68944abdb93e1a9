"""Hardening of every pod and container (parametrized over every workload), and
the restricted Pod Security Standard for every pod of every feature set."""

import pytest

from chartest import check_workload
from chart_data import FEATURE_SETS, SERVICES, workload

EXPECTED_UID = {"api": 10001, "ws": 10001, "www": 10001, "nats": 10001, "mongo": 999}
STABLE = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"]
REQUIRED_LABELS = {
    "app.kubernetes.io/name": "webhooks", "app.kubernetes.io/instance": "webhooks",
    "app.kubernetes.io/part-of": "webhooks", "app.kubernetes.io/managed-by": "Helm",
}


def containers(m, svc):
    return workload(m, svc).containers


@pytest.mark.parametrize("svc", SERVICES)
class TestPod:
    def test_run_as_non_root(self, default, svc):
        assert workload(default, svc).pod_spec["securityContext"]["runAsNonRoot"] is True

    def test_fixed_non_root_ids(self, default, svc):
        sc = workload(default, svc).pod_spec["securityContext"]
        assert sc["runAsUser"] == sc["runAsGroup"] == sc["fsGroup"] == EXPECTED_UID[svc]

    def test_seccomp_runtime_default(self, default, svc):
        assert workload(default, svc).pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}

    def test_no_service_account_token(self, default, svc):
        assert workload(default, svc).pod_spec["automountServiceAccountToken"] is False

    def test_tmp_is_a_writable_emptydir(self, default, svc):
        w = workload(default, svc)
        assert w.volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
        for c in w.containers:
            assert w.volume_mounts(c)["/tmp"]["name"] == "tmp"

    def test_no_host_namespaces(self, default, svc):
        spec = workload(default, svc).pod_spec
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))

    def test_recommended_labels(self, default, svc):
        w = workload(default, svc)
        for labels in (w.labels, w.pod_labels):
            for k, v in REQUIRED_LABELS.items():
                assert labels[k] == v
            assert labels["app.kubernetes.io/component"] == svc
            assert labels["app.kubernetes.io/version"]
        assert w.labels["helm.sh/chart"].startswith("webhooks-")
        assert "helm.sh/chart" not in w.pod_labels, "a chart version bump would replace every pod"

    def test_selector_only_stable_labels(self, default, svc):
        assert list(workload(default, svc).path("spec.selector.matchLabels")) == STABLE

    def test_restricted_pss(self, default, svc):
        assert check_workload(workload(default, svc)) == []


@pytest.mark.parametrize("svc", SERVICES)
class TestContainers:
    def test_no_privilege_escalation(self, default, svc):
        for c in containers(default, svc):
            assert c["securityContext"]["allowPrivilegeEscalation"] is False

    def test_read_only_root_filesystem(self, default, svc):
        for c in containers(default, svc):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True

    def test_drop_all_capabilities(self, default, svc):
        for c in containers(default, svc):
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}

    def test_container_non_root(self, default, svc):
        for c in containers(default, svc):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == EXPECTED_UID[svc]
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}

    def test_not_privileged(self, default, svc):
        for c in containers(default, svc):
            assert not c["securityContext"].get("privileged")
            assert not any(p.get("hostPort") for p in c.get("ports", []))

    def test_guaranteed_resources(self, default, svc):
        for c in containers(default, svc):
            assert c["resources"]["requests"] == c["resources"]["limits"]

    def test_probes_present(self, default, svc):
        for c in containers(default, svc):
            assert "livenessProbe" in c and "readinessProbe" in c


@pytest.mark.parametrize("name", list(FEATURE_SETS))
def test_restricted_pss_for_every_feature_set(render, name):
    m = render(FEATURE_SETS[name])
    problems = {w.ref: check_workload(w) for w in m.workloads}
    assert not any(problems.values()), problems


def test_security_context_is_overridable_and_pss_catches_it(render):
    m = render({"api": {"securityContext": {"allowPrivilegeEscalation": True, "readOnlyRootFilesystem": False,
                                            "runAsNonRoot": True, "capabilities": {"drop": []}}}})
    c = m.get("Deployment", "api").container("api")
    assert c["securityContext"]["allowPrivilegeEscalation"] is True
    rules = {v.rule for v in check_workload(m.get("Deployment", "api"))}
    assert rules == {"allowPrivilegeEscalation", "capabilities"}


def test_pod_security_context_override_to_root_is_caught(render):
    m = render({"www": {"podSecurityContext": {"runAsNonRoot": False, "runAsUser": 0}}})
    rules = {v.rule for v in check_workload(m.get("Deployment", "www"))}
    assert {"runAsNonRoot", "runAsUser"} <= rules


def test_container_user_and_group_win_over_the_pod_ones(render):
    """A container securityContext's own runAsUser/runAsGroup are kept (the pod's fill in only when
    absent), in the api pods and in the `helm test` pod that runs on the api image."""
    m = render({"api": {"securityContext": {"runAsUser": 20001, "runAsGroup": 20002}}})
    for pod_owner, container in ((m.get("Deployment", "api"), "api"), (m.get("Pod", "acceptance-test"), "acceptance")):
        sc = pod_owner.container(container)["securityContext"]
        assert (sc["runAsUser"], sc["runAsGroup"]) == (20001, 20002)
        assert pod_owner.pod_spec["securityContext"]["runAsUser"] == 10001
