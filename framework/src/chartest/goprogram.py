"""Small Go programs that ship inside chartest as source, built on first use.

Some jobs are best done by Go's own libraries (helm's rendering engine, Go's
template parser). chartest ships those programs as source (a directory of
``.go`` files inside the package) and builds each once per content into
``<state>/build/go``: the installed package is never written to. The module's
``go.mod`` is generated from the requirements the caller passes (the pinned
versions), so the pins stay in ``versions.toml``.

Where ``go`` is missing, :func:`build` raises :class:`~chartest.tools.MissingTool`;
callers that have a fallback catch it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Mapping

from . import state, tools
from .gomod import go_env
from .shell import run

GO_DIRECTIVE = "1.24"


def source_dir(package: str, name: str) -> Path:
    """The directory of a Go program shipped as data of the Python ``package``."""
    return Path(str(resources.files(package).joinpath(name)))


def fingerprint(src: Path, requires: Mapping[str, str], ldflags: str) -> str:
    """What a build depends on: the sources, the required module versions, the link flags."""
    digest = hashlib.sha256()
    for f in sorted(src.rglob("*.go")):
        digest.update(f.relative_to(src).as_posix().encode() + b"\0" + f.read_bytes())
    for module, version in sorted(requires.items()):
        digest.update(f"{module}@{version}\n".encode())
    digest.update(ldflags.encode())
    return digest.hexdigest()[:16]


def build(src: Path, name: str, requires: Mapping[str, str] | None = None, ldflags: str = "") -> Path:
    """The binary of the Go main package in ``src``, built now unless already built for this content.

    ``requires`` maps module paths to versions (``{"helm.sh/helm/v3": "v3.19.5"}``);
    ``go mod tidy`` adds their dependencies. Concurrent callers (xdist workers) are
    safe: each builds in a temporary directory and the binary lands by rename.
    """
    requires = dict(requires or {})
    binary = state.state_dir() / "build" / "go" / f"{name}-{fingerprint(src, requires, ldflags)}"
    if binary.is_file():
        return binary
    go = tools.find("go")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent, prefix=f".{name}-") as tmp:
        work = Path(tmp)
        for f in src.rglob("*.go"):
            target = work / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        lines = [f"module chartest.local/{name}", "", f"go {GO_DIRECTIVE}", ""]
        lines += [f"require {module} {version}" for module, version in sorted(requires.items())]
        (work / "go.mod").write_text("\n".join(lines) + "\n")
        env = go_env()
        if requires:
            run([go, "mod", "tidy"], cwd=work, env=env)
        argv = [go, "build", "-trimpath", "-o", str(work / name)]
        if ldflags:
            argv += ["-ldflags", ldflags]
        run(argv + ["."], cwd=work, env=env)
        os.replace(work / name, binary)
    return binary
