"""The Kubernetes Pod Security Standard ``restricted`` profile, checked offline.

:func:`check_restricted` applies every control of the restricted profile
(which includes every baseline control), as documented at
https://kubernetes.io/docs/concepts/security/pod-security-standards/ for
Kubernetes 1.34, to a pod spec (plus the pod's annotations for AppArmor), and
returns the violations. An empty list means a namespace labelled
``pod-security.kubernetes.io/enforce=restricted`` admits the pod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Violation", "check_restricted", "check_baseline", "check_workload", "assert_restricted",
           "PodSecurityError", "RULES"]

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret", "image"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}

RULES = {
    # baseline
    "hostProcess": "Windows HostProcess containers are forbidden",
    "hostNamespaces": "hostNetwork, hostPID and hostIPC must be unset or false",
    "privileged": "privileged containers are forbidden",
    "capabilities.baseline": "only the baseline capabilities may be added",
    "hostPathVolumes": "hostPath volumes are forbidden",
    "hostPorts": "hostPort must be unset or 0",
    "appArmor": "AppArmor profile must be unset, RuntimeDefault or Localhost",
    "seLinux": "SELinux type must be a container type, user and role unset",
    "procMount": "procMount must be Default",
    "seccomp.baseline": "seccomp profile must not be Unconfined",
    "sysctls": "only safe sysctls are allowed",
    # restricted
    "volumeTypes": "only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, "
                   "secret (and image) volumes are allowed",
    "allowPrivilegeEscalation": "allowPrivilegeEscalation must be false",
    "runAsNonRoot": "runAsNonRoot must be true (pod level, or every container)",
    "runAsUser": "runAsUser must not be 0",
    "seccomp": "seccompProfile.type must be RuntimeDefault or Localhost (pod level, or every container)",
    "capabilities": "containers must drop ALL capabilities and may only add NET_BIND_SERVICE",
}

BASELINE_RULES = {"hostProcess", "hostNamespaces", "privileged", "capabilities.baseline", "hostPathVolumes",
                  "hostPorts", "appArmor", "seLinux", "procMount", "seccomp.baseline", "sysctls"}


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.path}: {self.message}"


def _containers(spec: dict) -> list[tuple[str, dict]]:
    out = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(field) or []):
            out.append((f"spec.{field}[{i}]", c))
    return out


def check_restricted(pod_spec: dict, annotations: dict | None = None, *, profile: str = "restricted") -> list[Violation]:
    """Violations of the ``restricted`` (or ``baseline``) profile by a pod spec."""
    spec = pod_spec or {}
    ann = annotations or {}
    v: list[Violation] = []

    def add(rule: str, path: str, detail: str = "") -> None:
        v.append(Violation(rule, path, detail or RULES[rule]))

    psc = spec.get("securityContext") or {}
    containers = _containers(spec)
    linux = ((spec.get("os") or {}).get("name") or "linux") != "windows"

    # --- baseline --------------------------------------------------------------
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        add("hostProcess", "spec.securityContext.windowsOptions.hostProcess")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            add("hostNamespaces", f"spec.{field}", f"{field} is true")
    for i, vol in enumerate(spec.get("volumes") or []):
        if "hostPath" in vol:
            add("hostPathVolumes", f"spec.volumes[{i}]", f"volume {vol.get('name')!r} is a hostPath")
    for name, sysctl in ((s.get("name"), s) for s in psc.get("sysctls") or []):
        if name not in SAFE_SYSCTLS:
            add("sysctls", "spec.securityContext.sysctls", f"sysctl {name!r} is not safe")
    if (psc.get("seccompProfile") or {}).get("type") == "Unconfined":
        add("seccomp.baseline", "spec.securityContext.seccompProfile.type", "Unconfined")
    _selinux(psc.get("seLinuxOptions"), "spec.securityContext.seLinuxOptions", add)
    _apparmor(psc.get("appArmorProfile"), "spec.securityContext.appArmorProfile", add)
    for key, value in ann.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if not (value == "runtime/default" or str(value).startswith("localhost/")):
                add("appArmor", f"metadata.annotations[{key}]", f"AppArmor annotation {value!r}")

    for path, c in containers:
        sc = c.get("securityContext") or {}
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            add("hostProcess", f"{path}.securityContext.windowsOptions.hostProcess")
        if sc.get("privileged"):
            add("privileged", f"{path}.securityContext.privileged")
        added = set(((sc.get("capabilities") or {}).get("add")) or [])
        if added - BASELINE_CAPABILITIES:
            add("capabilities.baseline", f"{path}.securityContext.capabilities.add",
                f"adds {sorted(added - BASELINE_CAPABILITIES)}")
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                add("hostPorts", f"{path}.ports[{j}].hostPort", f"hostPort {port['hostPort']}")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            add("seccomp.baseline", f"{path}.securityContext.seccompProfile.type", "Unconfined")
        _selinux(sc.get("seLinuxOptions"), f"{path}.securityContext.seLinuxOptions", add)
        _apparmor(sc.get("appArmorProfile"), f"{path}.securityContext.appArmorProfile", add)
        if sc.get("procMount") not in (None, "Default"):
            add("procMount", f"{path}.securityContext.procMount", f"procMount {sc.get('procMount')!r}")

    if profile == "baseline":
        return v

    # --- restricted --------------------------------------------------------------
    for i, vol in enumerate(spec.get("volumes") or []):
        kinds = set(vol) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            add("volumeTypes", f"spec.volumes[{i}]", f"volume {vol.get('name')!r} has type {sorted(kinds)}")

    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_nonroot is False:
        add("runAsNonRoot", "spec.securityContext.runAsNonRoot", "is false")
    if psc.get("runAsUser") == 0:
        add("runAsUser", "spec.securityContext.runAsUser", "is 0")
    if linux and pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        add("seccomp", "spec.securityContext.seccompProfile.type", f"is {pod_seccomp!r}")

    for path, c in containers:
        sc = c.get("securityContext") or {}
        if linux and sc.get("allowPrivilegeEscalation") is not False:
            add("allowPrivilegeEscalation", f"{path}.securityContext.allowPrivilegeEscalation",
                f"container {c.get('name')!r}: is {sc.get('allowPrivilegeEscalation')!r}, must be false")
        nonroot = sc.get("runAsNonRoot")
        if nonroot is False or (nonroot is None and pod_nonroot is not True):
            add("runAsNonRoot", f"{path}.securityContext.runAsNonRoot",
                f"container {c.get('name')!r}: must be true here or at pod level")
        if sc.get("runAsUser") == 0:
            add("runAsUser", f"{path}.securityContext.runAsUser", f"container {c.get('name')!r}: is 0")
        if linux:
            cs = (sc.get("seccompProfile") or {}).get("type")
            if cs is not None and cs not in SECCOMP_OK:
                add("seccomp", f"{path}.securityContext.seccompProfile.type", f"container {c.get('name')!r}: is {cs!r}")
            elif cs is None and pod_seccomp not in SECCOMP_OK:
                add("seccomp", f"{path}.securityContext.seccompProfile",
                    f"container {c.get('name')!r}: unset here and at pod level")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                add("capabilities", f"{path}.securityContext.capabilities.drop",
                    f"container {c.get('name')!r}: does not drop ALL")
            extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
            if extra:
                add("capabilities", f"{path}.securityContext.capabilities.add",
                    f"container {c.get('name')!r}: adds {sorted(extra)}")
    return v


def check_baseline(pod_spec: dict, annotations: dict | None = None) -> list[Violation]:
    return check_restricted(pod_spec, annotations, profile="baseline")


def check_workload(resource: Any, profile: str = "restricted") -> list[Violation]:
    """Check a rendered workload (a :class:`chartest.render.manifests.Resource`)."""
    return check_restricted(resource.pod_spec, resource.pod_annotations, profile=profile)


class PodSecurityError(AssertionError):
    """Workloads a namespace enforcing the profile would refuse; one finding per line."""


def assert_restricted(resources: Any, profile: str = "restricted") -> None:
    """Raise :class:`PodSecurityError` listing, one per line, every finding of ``profile``
    in the pod-bearing resources of ``resources`` (a render, or one resource)."""
    items = [resources] if isinstance(resources, dict) else list(resources)
    lines = []
    for r in items:
        if not getattr(r, "is_workload", False):
            continue
        lines += [f"{r.kind}/{r.name}: {v}" for v in check_workload(r, profile)]
    if lines:
        raise PodSecurityError(f"{len(lines)} Pod Security '{profile}' finding{'s' if len(lines) != 1 else ''}:\n  "
                               + "\n  ".join(lines))


def _selinux(opts: dict | None, path: str, add) -> None:
    if not opts:
        return
    if opts.get("type", "") not in SELINUX_TYPES:
        add("seLinux", f"{path}.type", f"type {opts.get('type')!r}")
    for field in ("user", "role"):
        if opts.get(field):
            add("seLinux", f"{path}.{field}", f"{field} must be unset")


def _apparmor(profile: dict | None, path: str, add) -> None:
    if profile and profile.get("type") not in ("RuntimeDefault", "Localhost"):
        add("appArmor", f"{path}.type", f"type {profile.get('type')!r}")
