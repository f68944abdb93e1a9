"""Kubernetes, etcd, CoreDNS and pause, built from source for the local node image.

Used only where ``kindest/node`` cannot be pulled. Each output directory carries a
stamp of the pinned versions, so a second run does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from chartest import pins

from . import gobuild, paths
from chartest.progress import skip, step
from chartest.shell import run

KUBE_COMMANDS = (
    "kubeadm", "kubelet", "kubectl",
    "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
)

HINT = (
    "check that the Go module proxy answers (`go env GOPROXY`) and that disk space is free; "
    "rerun: finished parts are cached"
)


def out_dir() -> Path:
    return paths.BUILD / "kube-bin" / pins.get("kubernetes.version")


def kubernetes_binaries() -> Path:
    """Build the seven Kubernetes commands, version-stamped; return their directory."""
    version = pins.get("kubernetes.version")
    out = out_dir()
    stamp = out / ".stamp"
    key = pins.fingerprint("kubernetes.version", "kubernetes.staging", extra=gobuild.kube_ldflags(version).encode())
    binaries = [out / c for c in KUBE_COMMANDS]
    if gobuild.stamp_ok(stamp, key, *binaries):
        skip(f"kubernetes {version} binaries", "already built")
        return out
    with step(f"build kubernetes {version} binaries from the Go module proxy (about 8 min cold on 2 cores)", HINT):
        work = paths.BUILD / "wrap-kubernetes"
        packages = [f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS]
        gobuild.write_wrapper(work, "k8s.io/kubernetes", version, pins.get("kubernetes.staging"), packages, "1.24.0")
        gobuild.build_wrapped(work, packages, out, gobuild.kube_ldflags(version))
        stamp.write_text(key)
    return out


def kubectl_only() -> Path:
    """Just kubectl (minutes, not the full half hour): for hosts that pull kindest/node."""
    version = pins.get("kubernetes.version")
    out = paths.BUILD / "kubectl" / version
    if not (out / "kubectl").exists():
        work = paths.BUILD / "wrap-kubernetes"
        packages = ["k8s.io/kubernetes/cmd/kubectl"]
        gobuild.write_wrapper(work, "k8s.io/kubernetes", version, pins.get("kubernetes.staging"), packages, "1.24.0")
        gobuild.build_wrapped(work, packages, out, gobuild.kube_ldflags(version))
    return out / "kubectl"


def _cached(name: str, version_key: str, build: Callable[[Path], None], *extra_keys: str,
            hint: str = HINT) -> Path:
    """``build(out)`` once per pinned version; returns ``out/<name>``.

    The output directory carries a stamp of the pins it was built from, so a
    second run is a file check and a changed pin rebuilds.
    """
    version = pins.get(version_key)
    out = paths.BUILD / name / version
    stamp = out / ".stamp"
    key = pins.fingerprint(version_key, *extra_keys)
    if gobuild.stamp_ok(stamp, key, out / name):
        skip(f"{name} {version}", "already built")
        return out / name
    with step(f"build {name} {version}", hint):
        out.mkdir(parents=True, exist_ok=True)
        build(out)
        stamp.write_text(key)
    return out / name


def etcd_binary() -> Path:
    """etcd's server module has local replaces: built through a wrapper module."""
    def build(out: Path) -> None:
        version, work, package = pins.get("kubernetes.etcd"), paths.BUILD / "wrap-etcd", "go.etcd.io/etcd/server/v3"
        gobuild.write_wrapper(work, package, version, version, [package], "1.24")
        gobuild.build_wrapped(work, [package], out, "-s -w")
        (out / "server").rename(out / "etcd")  # go names the binary after the module directory
    return _cached("etcd", "kubernetes.etcd", build)


def coredns_binary() -> Path:
    def build(out: Path) -> None:
        gobuild.go_install("github.com/coredns/coredns", pins.get("kubernetes.coredns"), out, "coredns", "-s -w")
    return _cached("coredns", "kubernetes.coredns", build)


def pause_binary() -> Path:
    """pause, compiled statically from the pinned Kubernetes module's own source."""
    def build(out: Path) -> None:
        module = gobuild.module_dir("k8s.io/kubernetes", pins.get("kubernetes.version"))
        run(["gcc", "-Os", "-static", "-Wall", "-Werror", f'-DVERSION="{pins.get("kubernetes.pause")}"',
             "-o", out / "pause", module / "build/pause/linux/pause.c"])
        run(["strip", out / "pause"])
    return _cached("pause", "kubernetes.pause", build, "kubernetes.version",
                   hint="install gcc (Debian: build-essential)")


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
