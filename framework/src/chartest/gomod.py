"""Files from a Go module at a pinned version, via ``go mod download`` (the module proxy).

Kubernetes' OpenAPI schemas and CRDs such as Traefik's are published inside Go
modules; reading them from there keeps them exactly at the pinned version
without committing them.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from . import tools
from .shell import run


def go_env() -> dict[str, str]:
    """Static, reproducible builds that honour the machine's GOFLAGS/GOPROXY."""
    return {"CGO_ENABLED": "0", "GOFLAGS": os.environ.get("GOFLAGS", "-mod=mod")}


@cache
def module_dir(module: str, version: str) -> Path:
    """Download ``module@version`` into the Go module cache (once) and return its directory."""
    out = run([tools.find("go"), "mod", "download", "-json", f"{module}@{version}"], env=go_env(), check=False)
    try:
        info = json.loads(out[out.index("{"):])
    except ValueError:
        raise RuntimeError(f"cannot download {module}@{version}: {out.strip()[-500:]}") from None
    if "Error" in info:
        raise RuntimeError(f"cannot download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])
