"""Debian base images, from a registry when one answers, else from debootstrap.

Air-gapped hosts reach Debian's package mirror but no container registry, so
every base image is a ``debootstrap --variant=minbase`` root filesystem
imported into Docker. Each is labelled with a fingerprint of its suite and
package list and rebuilt only when that changes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from chartest import pins

from . import docker_images, paths
from chartest.progress import skip, step
from chartest.shell import run

from .apt import install as apt_install


@dataclass(frozen=True)
class BaseImage:
    tag: str
    packages: tuple[str, ...]
    registry_ref: str = ""  # an equivalent public image, used where a registry answers

    def fingerprint(self) -> str:
        return pins.fingerprint("node.debian_suite", extra=",".join(self.packages).encode())


PYTHON = BaseImage("chartest/python:bookworm", ("python3", "ca-certificates", "tzdata"),
                   registry_ref="python:3.11-slim-bookworm")
NETFILTER = BaseImage("chartest/netfilter:bookworm", ("iptables", "nftables", "conntrack", "ipset", "kmod", "iproute2"))
NODE_ROOTFS = BaseImage("chartest/node-rootfs:bookworm", (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
    "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount", "kmod", "conntrack",
    "jq", "procps", "ca-certificates", "socat", "libseccomp2", "pigz", "bash", "curl",
))


def ensure(image: BaseImage) -> str:
    """Build ``image`` unless an up-to-date one is present; returns its tag."""
    fingerprint = image.fingerprint()
    if docker_images.image_is_current(image.tag, fingerprint):
        skip(image.tag, "up to date")
        return image.tag
    if image.registry_ref and docker_images.pull(image.registry_ref, timeout=300):
        with step(f"{image.tag} from {image.registry_ref}"):
            ctx = paths.BUILD / "retag"
            ctx.mkdir(parents=True, exist_ok=True)
            (ctx / "Dockerfile").write_text(f"FROM {image.registry_ref}\n")
            docker_images.build(ctx, image.tag, fingerprint=fingerprint)
        return image.tag
    suite = pins.get("node.debian_suite")
    with step(f"debootstrap {suite} rootfs for {image.tag} ({len(image.packages)} packages)",
              "debootstrap needs root and Debian's package mirror; `apt-get install debootstrap`"):
        if shutil.which("debootstrap") is None:
            apt_install("debootstrap")
        rootfs = paths.BUILD / "rootfs" / image.tag.replace("/", "_").replace(":", "_")
        if rootfs.exists():
            shutil.rmtree(rootfs)
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        run(["debootstrap", "--variant=minbase", f"--include={','.join(image.packages)}", suite, rootfs],
            stream=False, timeout=1800)
        run(["chroot", rootfs, "apt-get", "clean"])
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        docker_images.import_rootfs(rootfs, image.tag, fingerprint, changes=(
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ))
        shutil.rmtree(rootfs)
    return image.tag


if __name__ == "__main__":
    for base in (PYTHON, NETFILTER, NODE_ROOTFS):
        ensure(base)
