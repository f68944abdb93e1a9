"""Small, explicit wrappers over the docker CLI (the engine is whatever answers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Mapping

from chartest.shell import CommandError, run

FINGERPRINT_LABEL = "dev.chartest.fingerprint"


def image_labels(tag: str) -> dict[str, str] | None:
    """The labels of a local image, or None when there is no such image."""
    try:
        out = run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag])
    except CommandError:
        return None
    return json.loads(out.strip() or "null") or {}


def image_is_current(tag: str, fingerprint: str) -> bool:
    """True when ``tag`` exists locally and was built from inputs hashing to ``fingerprint``."""
    labels = image_labels(tag)
    return labels is not None and labels.get(FINGERPRINT_LABEL) == fingerprint


def image_exists(tag: str) -> bool:
    return image_labels(tag) is not None


def pull(ref: str, timeout: float = 120) -> bool:
    """Try to pull ``ref``; False (quickly, where there is no registry) instead of raising."""
    try:
        run(["docker", "pull", "--quiet", ref], timeout=timeout)
        return True
    except (CommandError, subprocess.TimeoutExpired):
        return False


def build(context: Path, tag: str, *, dockerfile: Path | None = None, fingerprint: str = "",
          build_args: Mapping[str, str] | None = None, network: str | None = "none") -> None:
    """``docker build`` with the fingerprint label; no network unless asked."""
    argv = ["docker", "build", "--tag", tag, "--label", f"{FINGERPRINT_LABEL}={fingerprint}"]
    if dockerfile:
        argv += ["--file", str(dockerfile)]
    if network:
        argv += ["--network", network]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    run(argv + [str(context)], env={"DOCKER_BUILDKIT": "0"}, stream=True)


def import_rootfs(rootfs: Path, tag: str, fingerprint: str, changes: tuple[str, ...] = ()) -> None:
    """Turn a root filesystem directory into an image (``tar | docker import``)."""
    argv = ["docker", "import", "--change", f"LABEL {FINGERPRINT_LABEL}={fingerprint}"]
    for change in changes:
        argv += ["--change", change]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    try:
        done = subprocess.run(argv + ["-", tag], stdin=tar.stdout, capture_output=True, text=True)
    finally:
        tar.stdout.close()
        tar.wait()
    if done.returncode != 0 or tar.returncode != 0:
        raise CommandError(argv, done.returncode or tar.returncode, done.stdout + done.stderr)


def save(tags: list[str], dest: Path) -> Path:
    run(["docker", "save", "--output", str(dest), *tags])
    return dest
