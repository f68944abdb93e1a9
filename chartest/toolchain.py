"""The pinned command-line tools, in the project's own bin directory.

kind and helm are ``go install``ed at their pinned versions; kubectl is the one
built with the node image's Kubernetes binaries when those exist, else built
alone at the cluster's minor version. Nothing is installed system-wide.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from . import gobuild, paths, versions
from .progress import skip, step
from .shell import run

TOOLS = {
    # name: (package to install, versions.toml key, -X flag that stamps the version)
    "kind": ("sigs.k8s.io/kind", "tools.kind", ""),
    "helm": ("helm.sh/helm/v3/cmd/helm", "tools.helm", "helm.sh/helm/v3/internal/version.version"),
}

VERSION_COMMANDS = {
    "kind": (["kind", "version"], r"kind (v[\d.]+)"),
    "helm": (["helm", "version", "--short"], r"(v[\d.]+)"),
    "kubectl": (["kubectl", "version", "--client"], r"Client Version: (v[\d.]+)"),
}


def installed_version(tool: str) -> str | None:
    """The version of ``tool`` in the project bin directory, or None if absent."""
    binary = paths.BIN / tool
    if not binary.exists():
        return None
    argv, pattern = VERSION_COMMANDS[tool]
    out = run([binary, *argv[1:]], check=False)
    match = re.search(pattern, out)
    return match.group(1) if match else None


def wanted_version(tool: str) -> str:
    if tool == "kubectl":
        return versions.get("kubernetes.version")
    return versions.get(TOOLS[tool][1])


def ensure_tool(tool: str) -> Path:
    """Install ``tool`` at its pinned version unless it is already there."""
    paths.ensure(paths.BIN)
    want = wanted_version(tool)
    have = installed_version(tool)
    if have == want:
        skip(f"{tool} {want}", "already installed")
        return paths.BIN / tool
    with step(f"install {tool} {want}", "check that `go` is on PATH and the Go module proxy answers"):
        if tool == "kubectl":
            _install_kubectl()
        else:
            package, key, version_var = TOOLS[tool]
            ldflags = f"-s -w -X {version_var}={want}" if version_var else "-s -w"
            gobuild.go_install(package, want, paths.BIN, tool, ldflags)
    return paths.BIN / tool


def _install_kubectl() -> None:
    """kubectl at the cluster's exact version, from the Kubernetes build."""
    from . import kubebuild  # the full build also serves the node image

    built = kubebuild.out_dir() / "kubectl"
    if not built.exists():
        built = kubebuild.kubectl_only()
    shutil.copy2(built, paths.BIN / "kubectl")


def on_path() -> None:
    """Put the project bin directory first on this process's PATH."""
    bin_dir = str(paths.BIN)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
