"""Building pinned Go programs from the Go module proxy.

Three shapes, all cached (the Go build cache plus a stamp file per output):

* ``go install module/cmd@version`` for modules that install cleanly (kind, helm,
  CoreDNS, FerretDB);
* a *wrapper module* for modules whose own ``go.mod`` carries local ``replace``
  directives (Kubernetes with its staging modules, etcd's server): the wrapper
  requires the module and replaces each local path with its published version;
* version stamping through ``-ldflags -X``, because kubeadm refuses binaries that
  do not know their version.
"""

from __future__ import annotations

import re
from pathlib import Path

from chartest.gomod import go_env, module_dir  # noqa: F401 - module_dir is part of this module's API
from chartest.shell import run

BUILD_DATE = "2026-01-01T00:00:00Z"  # fixed, so rebuilt binaries are identical


def stamp_ok(stamp: Path, key: str, *outputs: Path) -> bool:
    """True when every output exists and was built for exactly ``key``."""
    return stamp.exists() and stamp.read_text() == key and all(o.exists() for o in outputs)


def go_install(package: str, version: str, dest: Path, binary: str, ldflags: str = "") -> Path:
    """``go install package@version`` into ``dest``; returns the binary path."""
    dest.mkdir(parents=True, exist_ok=True)
    argv = ["go", "install", "-trimpath"]
    if ldflags:
        argv += ["-ldflags", ldflags]
    run(argv + [f"{package}@{version}"], env={**go_env(), "GOBIN": str(dest)}, stream=True)
    return dest / binary


def local_replaces(gomod: Path) -> list[str]:
    """The module paths that ``gomod`` replaces with a local directory."""
    replaced = []
    for line in gomod.read_text().splitlines():
        match = re.match(r"\s*(?:replace\s+)?(\S+)(?:\s+v\S+)?\s+=>\s+\.\.?/", line)
        if match and "FORBIDDEN" not in line:  # etcd's guard rails, not real modules
            replaced.append(match.group(1))
    return replaced


def write_wrapper(workdir: Path, module: str, version: str, replace_version: str,
                  packages: list[str], go_directive: str) -> None:
    """Write a wrapper module that builds ``packages`` of ``module@version``.

    Every module the upstream ``go.mod`` replaces with a local path is replaced
    with its published ``replace_version`` instead.
    """
    upstream = module_dir(module, version)
    replaces = local_replaces(upstream / "go.mod")
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "module chartest.local/wrapper",
        "",
        f"go {go_directive}",
        "",
        f"require {module} {version}",
        "",
    ]
    lines += [f"replace {mod} => {mod} {replace_version}" for mod in replaces]
    (workdir / "go.mod").write_text("\n".join(lines) + "\n")
    imports = "\n".join(f'\t_ "{p}"' for p in packages)
    (workdir / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    run(["go", "mod", "tidy"], cwd=workdir, env=go_env(), stream=True)


def build_wrapped(workdir: Path, packages: list[str], out: Path, ldflags: str = "") -> None:
    """Build main ``packages`` of a wrapper module into directory ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["go", "build", "-trimpath", "-o", f"{out}/"]
    if ldflags:
        argv += ["-ldflags", ldflags]
    run(argv + packages, cwd=workdir, env=go_env(), stream=True)


def kube_ldflags(version: str) -> str:
    """The ``-X`` flags that give Kubernetes binaries their version."""
    major, minor, _ = version.lstrip("v").split(".", 2)
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "gitCommit": "0000000000000000000000000000000000000000",
        "buildDate": BUILD_DATE,
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)
