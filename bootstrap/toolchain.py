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

from chartest import pins
from chartest.render import engine_client

from . import gobuild, paths
from chartest.progress import skip, step
from chartest.shell import run

TOOLS = {
    # name: (package to install, versions.toml key, -X flag that stamps the version)
    "kind": ("sigs.k8s.io/kind", "tools.kind", ""),
    "helm": ("helm.sh/helm/v3/cmd/helm", "tools.helm", "helm.sh/helm/v3/internal/version.version"),
}


def ldflags(tool: str) -> str:
    """Link flags: the version, and for helm the default Kubernetes version of
    ``.Capabilities.KubeVersion`` (else v1.20, and charts with ``kubeVersion: >=1.30``
    fail a plain ``helm template``), as helm's own release builds stamp it (the same
    flags as chartest's render engine, which links helm's library)."""
    if tool == "helm":
        return engine_client.helm_ldflags()
    package, key, version_var = TOOLS[tool]
    flags = ["-s", "-w"]
    if version_var:
        flags.append(f"-X {version_var}={pins.get(key)}")
    return " ".join(flags)


def _stamp(tool: str) -> Path:
    return paths.BIN / f".{tool}.ldflags"

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
        return pins.get("kubernetes.version")
    return pins.get(TOOLS[tool][1])


def ensure_tool(tool: str) -> Path:
    """Install ``tool`` at its pinned version unless it is already there."""
    paths.ensure(paths.BIN)
    want = wanted_version(tool)
    have = installed_version(tool)
    flags = ldflags(tool) if tool in TOOLS else ""
    stamped = tool not in TOOLS or (_stamp(tool).exists() and _stamp(tool).read_text() == flags)
    if have == want and stamped:
        skip(f"{tool} {want}", "already installed")
        return paths.BIN / tool
    with step(f"install {tool} {want}", "check that `go` is on PATH and the Go module proxy answers"):
        if tool == "kubectl":
            _install_kubectl()
        else:
            gobuild.go_install(TOOLS[tool][0], want, paths.BIN, tool, flags)
            _stamp(tool).write_text(flags)
    return paths.BIN / tool


def ensure_render_engine() -> Path:
    """chartest's render engine (helm's library at the pinned helm, one process per pytest run),
    built now so that the first test run does not pay the build."""
    name = engine_client.identity()
    built = paths.BUILD / "go" / name
    if built.is_file():
        skip(f"render engine {name}", "already built")
        return built
    with step(f"build the render engine ({name}, helm {pins.get('tools.helm')})",
              "check that `go` is on PATH and the Go module proxy answers"):
        return engine_client.build()


def ensure_routing_echo() -> Path:
    """The routing tier's local backends in Go (chartest-echo), built now so that the first test
    run that starts the real Traefik does not pay the build."""
    from chartest import goprogram
    from chartest.routing import backends

    name = f"{backends.ECHO}-{goprogram.fingerprint(backends.echo_source(), {}, '')}"
    if (paths.BUILD / "go" / name).is_file():
        skip(f"routing backends {name}", "already built")
        return paths.BUILD / "go" / name
    with step(f"build the routing tier's backends ({name})", "check that `go` is on PATH"):
        return backends.echo_program()


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
