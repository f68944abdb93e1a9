"""Kubernetes, etcd, CoreDNS and pause, built from source for the local node image.

Used only where ``kindest/node`` cannot be pulled. Each output directory carries a
stamp of the pinned versions, so a second run does nothing.
"""

from __future__ import annotations

from pathlib import Path

from . import gobuild, paths, versions
from .progress import skip, step
from .shell import run

KUBE_COMMANDS = (
    "kubeadm", "kubelet", "kubectl",
    "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
)

HINT = (
    "check that the Go module proxy answers (`go env GOPROXY`) and that disk space is free; "
    "rerun: finished parts are cached"
)


def out_dir() -> Path:
    return paths.BUILD / "kube-bin" / versions.get("kubernetes.version")


def kubernetes_binaries() -> Path:
    """Build the seven Kubernetes commands, version-stamped; return their directory."""
    version = versions.get("kubernetes.version")
    out = out_dir()
    stamp = out / ".stamp"
    key = versions.fingerprint("kubernetes.version", "kubernetes.staging", extra=gobuild.kube_ldflags(version).encode())
    binaries = [out / c for c in KUBE_COMMANDS]
    if gobuild.stamp_ok(stamp, key, *binaries):
        skip(f"kubernetes {version} binaries", "already built")
        return out
    with step(f"build kubernetes {version} binaries from the Go module proxy (25-50 min cold on 2 cores)", HINT):
        work = paths.BUILD / "wrap-kubernetes"
        packages = [f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS]
        gobuild.write_wrapper(work, "k8s.io/kubernetes", version, versions.get("kubernetes.staging"), packages, "1.24.0")
        gobuild.build_wrapped(work, packages, out, gobuild.kube_ldflags(version))
        stamp.write_text(key)
    return out


def kubectl_only() -> Path:
    """Just kubectl (minutes, not the full half hour): for hosts that pull kindest/node."""
    version = versions.get("kubernetes.version")
    out = paths.BUILD / "kubectl" / version
    if not (out / "kubectl").exists():
        work = paths.BUILD / "wrap-kubernetes"
        packages = ["k8s.io/kubernetes/cmd/kubectl"]
        gobuild.write_wrapper(work, "k8s.io/kubernetes", version, versions.get("kubernetes.staging"), packages, "1.24.0")
        gobuild.build_wrapped(work, packages, out, gobuild.kube_ldflags(version))
    return out / "kubectl"


def etcd_binary() -> Path:
    version = versions.get("kubernetes.etcd")
    out = paths.BUILD / "etcd" / version
    stamp = out / ".stamp"
    key = versions.fingerprint("kubernetes.etcd")
    if gobuild.stamp_ok(stamp, key, out / "etcd"):
        skip(f"etcd {version}", "already built")
        return out / "etcd"
    with step(f"build etcd {version}", HINT):
        work = paths.BUILD / "wrap-etcd"
        gobuild.write_wrapper(work, "go.etcd.io/etcd/server/v3", version, version, ["go.etcd.io/etcd/server/v3"], "1.24")
        gobuild.build_wrapped(work, ["go.etcd.io/etcd/server/v3"], out, "-s -w")
        (out / "server").rename(out / "etcd")  # go names the binary after the module directory
        stamp.write_text(key)
    return out / "etcd"


def coredns_binary() -> Path:
    version = versions.get("kubernetes.coredns")
    out = paths.BUILD / "coredns" / version
    stamp = out / ".stamp"
    key = versions.fingerprint("kubernetes.coredns")
    if gobuild.stamp_ok(stamp, key, out / "coredns"):
        skip(f"coredns {version}", "already built")
        return out / "coredns"
    with step(f"build coredns {version}", HINT):
        gobuild.go_install("github.com/coredns/coredns", version, out, "coredns")
        stamp.write_text(key)
    return out / "coredns"


def pause_binary() -> Path:
    """pause, compiled statically from the pinned Kubernetes module's own source."""
    version = versions.get("kubernetes.pause")
    out = paths.BUILD / "pause" / version
    stamp = out / ".stamp"
    key = versions.fingerprint("kubernetes.pause", "kubernetes.version")
    if gobuild.stamp_ok(stamp, key, out / "pause"):
        skip(f"pause {version}", "already built")
        return out / "pause"
    with step(f"build pause {version} from kubernetes' build/pause", "install gcc (Debian: build-essential)"):
        source = gobuild.module_dir("k8s.io/kubernetes", versions.get("kubernetes.version")) / "build/pause/linux/pause.c"
        out.mkdir(parents=True, exist_ok=True)
        run(["gcc", "-Os", "-static", "-Wall", "-Werror", f'-DVERSION="{version}"', "-o", out / "pause", source])
        run(["strip", out / "pause"])
        stamp.write_text(key)
    return out / "pause"


def build_all() -> dict[str, Path]:
    """Every binary the local node image needs."""
    return {
        "pause": pause_binary(),
        "etcd": etcd_binary(),
        "coredns": coredns_binary(),
        "kubernetes": kubernetes_binaries(),
    }


if __name__ == "__main__":
    build_all()
