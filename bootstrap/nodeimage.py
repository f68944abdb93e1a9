"""The kind node image: pulled where a registry answers, built locally otherwise.

The local build mirrors ``kind build node-image`` without its downloads:

1. component images (apiserver, controller-manager, scheduler, proxy, etcd,
   CoreDNS, pause) from binaries built from the Go module proxy, tagged exactly
   as ``kubeadm config images list`` prints them;
2. a node stage image: a debootstrap rootfs plus kind's base-image files from
   the pinned kind module, the Kubernetes node binaries, and the add-on
   manifests kind applies from ``/kind/manifests`` like kindest/node's (pod
   network, NetworkPolicy enforcement, the ``standard`` StorageClass:
   :mod:`bootstrap.nodeaddons`);
3. preload: run the stage with ``sleep``, start containerd in it, import the
   component and add-on images into its ``k8s.io`` namespace, ``docker commit``.

The tag carries a fingerprint of every input (``chartest/node:<version>-<fp>``),
so a changed image never silently reuses a cluster made from an older one, and
an unchanged rebuild is a label check.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from chartest import pins

from . import baseimages, docker_images, gobuild, kubebuild, nodeaddons, paths
from chartest.progress import info, skip, step
from chartest.shell import run

IMAGES_DIR = paths.IMAGES / "node"
LOCAL_REPO = "chartest/node"
HINT = "see the step's output above; rerun `make node-image` (finished parts are cached)"


def local_tag(fp: str | None = None) -> str:
    """``chartest/node:<Kubernetes version>-<first 10 of the fingerprint>``."""
    return f"{LOCAL_REPO}:{pins.get('kubernetes.version')}-{(fp or fingerprint())[:10]}"


def fingerprint() -> str:
    """Hash of every input of the local node image (nothing is built to compute it)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in IMAGES_DIR.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(IMAGES_DIR)).encode() + f.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(Path(nodeaddons.__file__).read_bytes())
    digest.update(nodeaddons.fingerprint_bytes())
    digest.update(baseimages.NODE_ROOTFS.fingerprint().encode())
    digest.update(baseimages.NETFILTER.fingerprint().encode())
    return pins.fingerprint(
        "tools.kind", "kubernetes.version", "kubernetes.staging", "kubernetes.etcd",
        "kubernetes.coredns", "kubernetes.pause", "kubernetes.crictl", extra=digest.digest(),
    )


def ensure(prefer_pull: bool = True) -> str:
    """The node image reference kind should use (pulled, cached, or built now)."""
    pinned = pins.get("node.kindest_node")
    fp = fingerprint()
    if docker_images.image_is_current(local_tag(fp), fp):
        skip(f"node image {local_tag(fp)}", "up to date")
        return local_tag(fp)
    if prefer_pull and docker_images.image_exists(pinned.split("@")[0]):
        skip(f"node image {pinned}", "present")
        return pinned
    if prefer_pull:
        with step(f"try to pull {pinned}"):
            pulled = docker_images.pull(pinned, timeout=600)
        if pulled:
            return pinned
        info("no registry answers: building the node image locally")
    return build(fp)


def kubeadm_images(kubeadm: Path) -> list[str]:
    """The image names kubeadm expects for the pinned version."""
    out = run([kubeadm, "config", "images", "list", "--kubernetes-version", pins.get("kubernetes.version")])
    return [line.strip() for line in out.splitlines() if line.strip()]


def sandbox_image(kind_base: Path) -> str:
    """The pause image kind's containerd config names as ``sandbox_image``."""
    for line in (kind_base / "etc/containerd/config.toml").read_text().splitlines():
        if line.strip().startswith("sandbox_image"):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("kind's containerd config has no sandbox_image")


def _component_dockerfile(name: str) -> tuple[str, str]:
    """(base image, Dockerfile body) for one control-plane component image."""
    if name == "kube-proxy":
        return baseimages.NETFILTER.tag, f"COPY {name} /usr/local/bin/{name}\n"
    if name == "coredns":
        return "scratch", 'COPY coredns /coredns\nENTRYPOINT ["/coredns"]\n'
    if name == "pause":
        return "scratch", 'COPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
    return "scratch", (
        f"COPY {name} /usr/local/bin/{name}\n"
        "ENV PATH=/usr/local/bin\n"
        f'ENTRYPOINT ["/usr/local/bin/{name}"]\n'
    )


def build_component_images(binaries: dict[str, Path], kind_base: Path) -> list[str]:
    """Build every control-plane image kubeadm lists; returns all tags to preload."""
    kube_bin = binaries["kubernetes"]
    sources = {c: kube_bin / c for c in kubebuild.KUBE_COMMANDS}
    sources.update(etcd=binaries["etcd"], coredns=binaries["coredns"], pause=binaries["pause"])
    tags = kubeadm_images(kube_bin / "kubeadm")
    pause_tags = [t for t in tags if "/pause:" in t] + [sandbox_image(kind_base)]
    tags = [t for t in tags if "/pause:" not in t] + [pause_tags[0]]
    for tag in tags:
        name = tag.rsplit("/", 1)[1].split(":")[0]
        base, body = _component_dockerfile(name)
        ctx = paths.BUILD / "component" / name
        if ctx.exists():
            shutil.rmtree(ctx)
        ctx.mkdir(parents=True)
        shutil.copy2(sources[name], ctx / name)
        (ctx / "Dockerfile").write_text(
            f"FROM {base}\n{body}LABEL org.opencontainers.image.version={tag.rsplit(':', 1)[1]}\n"
        )
        with step(f"component image {tag}"):
            docker_images.build(ctx, tag)
    for extra in pause_tags[1:]:
        run(["docker", "tag", pause_tags[0], extra])
    return tags + pause_tags[1:]


def crictl_binary() -> Path:
    version = pins.get("kubernetes.crictl")
    out = paths.BUILD / "crictl" / version
    if not (out / "crictl").exists():
        with step(f"build crictl {version}", HINT):
            gobuild.go_install("sigs.k8s.io/cri-tools/cmd/crictl", version, out, "crictl", "-s -w")
    return out / "crictl"


def _stage_context(binaries: dict[str, Path], kind_base: Path, fp: str) -> Path:
    ctx = paths.BUILD / f"node-context-{fp[:10]}"  # per fingerprint: builds of other inputs may run at once
    if ctx.exists():
        shutil.rmtree(ctx)
    (ctx / "bin").mkdir(parents=True)
    shutil.copytree(kind_base, ctx / "kind-base")
    for name in ("kubeadm", "kubelet", "kubectl"):
        shutil.copy2(binaries["kubernetes"] / name, ctx / "bin" / name)
    shutil.copy2(crictl_binary(), ctx / "bin" / "crictl")
    (ctx / "manifests").mkdir()
    for name, text in nodeaddons.manifests().items():
        (ctx / "manifests" / name).write_text(text)
    (ctx / "version").write_text(pins.get("kubernetes.version"))
    return ctx


def _preload(stage: str, tags: list[str], target: str, fp: str) -> None:
    """Import ``tags`` into the stage's containerd and commit the result as ``target``."""
    archive = docker_images.save(tags, paths.BUILD / f"node-images-{fp[:10]}.tar")
    name = f"chartest-node-build-{uuid.uuid4().hex[:8]}"
    run(["docker", "run", "-d", "--privileged", "--security-opt", "seccomp=unconfined",
         "--entrypoint=sleep", f"--name={name}", stage, "infinity"])
    try:
        run(["docker", "exec", name, "bash", "-c", "nohup containerd > /var/log/containerd-build.log 2>&1 &"])
        deadline = time.monotonic() + 60
        while True:
            probe = subprocess.run(["docker", "exec", name, "ctr", "version"], capture_output=True)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("containerd in the build container did not start")
            time.sleep(1)
        with open(archive, "rb") as fh:
            run(["docker", "exec", "-i", name, "ctr", "--namespace=k8s.io", "images", "import",
                 "--label=io.cri-containerd.pinned=pinned", "--all-platforms", "--no-unpack", "--digests", "-"],
                input=fh.read())
        listed = set(run(["docker", "exec", name, "ctr", "--namespace=k8s.io", "images", "list", "-q"]).split())
        missing = [t for t in tags if t not in listed and f"docker.io/{t}" not in listed]
        if missing:
            raise RuntimeError(f"images missing after preload: {missing}")
        info(f"preloaded {len(tags)} images")
        run(["docker", "exec", name, "pkill", "containerd"])
        time.sleep(2)
        run(["docker", "commit",
             "--change", 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
             "--change", f"LABEL {docker_images.FINGERPRINT_LABEL}={fp}",
             name, target])
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        archive.unlink(missing_ok=True)


def build(fp: str | None = None) -> str:
    """Build the node image locally (air-gapped path); returns its tag."""
    fp = fp or fingerprint()
    started = time.monotonic()
    binaries = kubebuild.build_all()
    baseimages.ensure(baseimages.NODE_ROOTFS)
    baseimages.ensure(baseimages.NETFILTER)
    kind_base = gobuild.module_dir("sigs.k8s.io/kind", pins.get("tools.kind")) / "images/base/files"
    tags = build_component_images(binaries, kind_base) + nodeaddons.build_images()
    stage = f"{LOCAL_REPO}-stage:{pins.get('kubernetes.version')}-{fp[:10]}"
    with step(f"node stage image {stage}", HINT):
        docker_images.build(_stage_context(binaries, kind_base, fp), stage, dockerfile=IMAGES_DIR / "Dockerfile",
                     build_args={"BASE": baseimages.NODE_ROOTFS.tag})
    with step(f"preload {len(tags)} images and commit {local_tag(fp)}", HINT):
        _preload(stage, tags, local_tag(fp), fp)
    info(f"node image built in {time.monotonic() - started:.0f}s")
    return local_tag(fp)


if __name__ == "__main__":
    print(ensure())


def kind_config_patch(image: str) -> dict:
    """What a kind cluster config needs for ``image`` on this host.

    The local image works as kindest/node does (kind installs its pod network
    and StorageClass from ``/kind/manifests``, on any number of nodes) and bakes
    in ``restrict_oom_score_adj``; kindest/node on a host without
    CAP_SYS_RESOURCE gets that containerd setting as a patch.
    """
    from .engine import bounding_set_lacks_sys_resource

    if image.startswith(LOCAL_REPO + ":"):
        return {}
    if bounding_set_lacks_sys_resource():
        return {"containerdConfigPatches": [
            '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n']}
    return {}
