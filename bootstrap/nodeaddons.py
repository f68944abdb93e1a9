"""The node image's add-ons, as kindest/node ships them: pod network, NetworkPolicies, volumes.

kind applies ``/kind/manifests/default-cni.yaml`` and
``/kind/manifests/default-storage.yaml`` from the node image when it creates a
cluster (its ``installcni`` and ``installstorage`` actions). The local node
image carries both, written by this repository (``images/node/manifests``), and
the images they name, preloaded like the control-plane images:

* ``netagent``: this repository's own small kindnetd (``images/netagent``, Go,
  client-go at the pinned Kubernetes staging version): CNI config per node,
  routes to the other nodes' podCIDRs, masquerade out of the pod subnet;
* ``network-policies``: kube-router's network policy controller alone
  (``github.com/cloudnativelabs/kube-router/v2``, iptables + ipset) at the pinned
  version. (``sigs.k8s.io/kube-network-policies``, kind's own enforcer, cannot
  work on hosts whose kernel lacks nftables' ``queue`` expression,
  ``CONFIG_NFT_QUEUE``, as these do: its rules fail to load with ENOENT.)
* ``local-path``: Rancher's ``local-path-provisioner`` at the pinned version,
  behind the default StorageClass ``standard`` (also its own helper image).

Every binary is built from the Go module proxy (CGO off); every image is ``FROM``
the Debian netfilter base (iptables, iproute2, a shell for the volume helper).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from chartest import pins
from chartest.progress import step
from chartest.shell import run

from . import baseimages, gobuild, paths
from .images import ImageSpec, ensure as ensure_image

MANIFESTS = paths.IMAGES / "node" / "manifests"
NETAGENT_SOURCE = paths.IMAGES / "netagent" / "main.go"
KUBE_ROUTER_MODULE = "github.com/cloudnativelabs/kube-router/v2"
LOCAL_PATH_MODULE = "github.com/rancher/local-path-provisioner"
HINT = "check that the Go module proxy answers (go env GOPROXY), then rerun `make node-image`"


def _netagent_key() -> str:
    digest = hashlib.sha256(NETAGENT_SOURCE.read_bytes() + pins.get("kubernetes.staging").encode())
    return digest.hexdigest()[:16]


def netagent_binary() -> Path:
    """The agent from this repository's source, in a module that requires the pinned client-go."""
    key = _netagent_key()
    out = paths.BUILD / "netagent"
    program, stamp = out / "netagent", out / ".stamp"
    if gobuild.stamp_ok(stamp, key, program):
        return program
    with step("build netagent (the node image's pod network)", HINT):
        src = out / "src"
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        shutil.copy2(NETAGENT_SOURCE, src / "main.go")
        (src / "go.mod").write_text(
            "module chartest.local/netagent\n\ngo 1.24\n\n"
            f"require k8s.io/client-go {pins.get('kubernetes.staging')}\n")
        run(["go", "mod", "tidy"], cwd=src, env=gobuild.go_env(), stream=True)
        gobuild.build_wrapped(src, ["."], src / "bin", ldflags="-s -w")
        shutil.move(src / "bin" / "netagent", program)
        stamp.write_text(key)
    return program


def _installed_binary(module: str, package: str, pin: str, built_name: str, name: str) -> Path:
    """``go install module/package@pin`` once, as ``name``."""
    version = pins.get(pin)
    out = paths.BUILD / name / version
    program, stamp = out / name, out / ".stamp"
    if gobuild.stamp_ok(stamp, version, program):
        return program
    with step(f"build {module} {version} from the Go module proxy", HINT):
        built = gobuild.go_install(f"{module}{package}", version, out, built_name, ldflags="-s -w")
        if built != program:
            built.rename(program)
        stamp.write_text(version)
    return program


def network_policies_binary() -> Path:
    return _installed_binary(KUBE_ROUTER_MODULE, "/cmd/kube-router", "node.kube_router", "kube-router", "kube-router")


def local_path_binary() -> Path:
    return _installed_binary(LOCAL_PATH_MODULE, "", "node.local_path_provisioner",
                             "local-path-provisioner", "local-path-provisioner")


def _spec(name: str, binary, source_key, version: str) -> ImageSpec:
    def prepare(ctx: Path) -> None:
        shutil.copy2(binary(), ctx / binary().name)

    def inputs() -> bytes:  # known before building: the pinned source and the base image
        return (source_key() + baseimages.NETFILTER.fingerprint()).encode()

    return ImageSpec(name, f"chartest/{name}", prepare, inputs, base=lambda: baseimages.ensure(baseimages.NETFILTER),
                     version=version)


NETAGENT = _spec("netagent", netagent_binary, _netagent_key, "0.1.0")
NETWORK_POLICIES = _spec("network-policies", network_policies_binary, lambda: pins.get("node.kube_router"),
                         pins.get("node.kube_router").lstrip("v"))
LOCAL_PATH = _spec("local-path", local_path_binary, lambda: pins.get("node.local_path_provisioner"),
                   pins.get("node.local_path_provisioner").lstrip("v"))
SPECS = (NETAGENT, NETWORK_POLICIES, LOCAL_PATH)
PLACEHOLDERS = {"@NETAGENT_IMAGE@": NETAGENT, "@NETWORK_POLICIES_IMAGE@": NETWORK_POLICIES,
                "@LOCAL_PATH_IMAGE@": LOCAL_PATH}


def manifests() -> dict[str, str]:
    """``/kind/manifests`` file name -> content, with the add-on images' tags filled in."""
    rendered = {}
    for source in sorted(MANIFESTS.glob("*.yaml")):
        text = source.read_text()
        for placeholder, spec in PLACEHOLDERS.items():
            text = text.replace(placeholder, spec.tag())
        if re.search(r"@[A-Z_]+_IMAGE@", text):
            raise RuntimeError(f"{source} names an image placeholder nodeaddons.py does not know")
        rendered[source.name] = text
    return rendered


def fingerprint_bytes() -> bytes:
    """What the node image's fingerprint takes from the add-ons (nothing is built for it)."""
    return "".join(spec.tag() for spec in SPECS).encode() + "".join(manifests().values()).encode()


def build_images() -> list[str]:
    """Build (or reuse) every add-on image; returns the tags to preload into the node."""
    return [ensure_image(spec) for spec in SPECS]
