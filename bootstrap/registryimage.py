"""The OCI registry image: the CNCF distribution registry built from the Go module proxy.

Hosts that reach no container registry cannot pull the official ``registry``
image, so its program (``github.com/distribution/distribution/v3/cmd/registry``
at the pinned version) is built with ``go install`` and put ``FROM scratch``
with a configuration of this repository's own (``images/registry``). The
cluster tier runs it on loopback and connects it to kind
(:mod:`chartest.cluster.registry`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chartest import pins
from chartest.progress import step

from . import gobuild, paths
from .images import ImageSpec, binary_hash, ensure as ensure_image

MODULE = "github.com/distribution/distribution/v3"
RECIPE = paths.IMAGES / "registry"


def version() -> str:
    return pins.get("registry.distribution")


def binary() -> Path:
    """The registry program at the pinned version, built once (static: CGO off)."""
    out = paths.BUILD / "registry" / version()
    program = out / "registry"
    stamp = out / ".stamp"
    if gobuild.stamp_ok(stamp, version(), program):
        return program
    with step(f"build the distribution registry {version()} from the Go module proxy",
              hint="check that the Go module proxy answers (go env GOPROXY), then rerun"):
        gobuild.go_install(f"{MODULE}/cmd/registry", version(), out, "registry", ldflags="-s -w")
        stamp.write_text(version())
    return program


def _prepare(ctx: Path) -> None:
    shutil.copy2(binary(), ctx / "registry")
    shutil.copy2(RECIPE / "config.yml", ctx / "config.yml")
    (ctx / "storage").mkdir()


def _inputs() -> bytes:
    return binary_hash(binary)() + (RECIPE / "config.yml").read_bytes()


SPEC = ImageSpec("registry", "chartest/registry", _prepare, _inputs, version=version().lstrip("v"))


def ensure() -> str:
    """The registry image, built unless its content tag exists; returns the tag."""
    return ensure_image(SPEC)
