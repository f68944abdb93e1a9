"""Finding the external programs chartest drives: helm, kind, kubectl, go.

A tool is the one configured explicitly (``--helm``, ``CHARTEST_HELM``, ini
``chartest_helm``), else the pinned one a bootstrap put in the state
directory's ``bin/``, else the first on ``PATH``. A missing tool raises
:class:`MissingTool`, whose message is one line saying how to get it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import pins, state

__all__ = ["MissingTool", "find", "configure", "HOW_TO_GET"]

HOW_TO_GET = {
    "helm": lambda: (f"install helm {pins.get('tools.helm')} (https://helm.sh/docs/intro/install/ or "
                     f"`go install helm.sh/helm/v3/cmd/helm@{pins.get('tools.helm')}`), or point "
                     "--helm / CHARTEST_HELM at it"),
    "kind": lambda: (f"install kind {pins.get('tools.kind')} (`go install sigs.k8s.io/kind@"
                     f"{pins.get('tools.kind')}`), or point CHARTEST_KIND at it"),
    "kubectl": lambda: ("install kubectl (https://kubernetes.io/docs/tasks/tools/), or point "
                        "CHARTEST_KUBECTL at it"),
    "go": lambda: ("install Go (https://go.dev/dl/): it reads CRD schemas from Go modules; or list "
                   "only file and chart sources in chartest_schema_sources"),
    "docker": lambda: "install Docker (https://docs.docker.com/engine/install/) and start it",
}

_configured: dict[str, str] = {}


class MissingTool(RuntimeError):
    """A program chartest needs is not installed; ``str()`` is one line saying how to get it."""

    def __init__(self, tool: str, looked: str):
        self.tool = tool
        hint = HOW_TO_GET.get(tool, lambda: f"install {tool}")()
        super().__init__(f"chartest needs `{tool}`, not found ({looked}): {hint}")


def configure(tool: str, path: str | os.PathLike | None) -> None:
    """Use ``path`` for ``tool`` from now on (``None``: back to the lookup)."""
    if path:
        _configured[tool] = str(path)
    else:
        _configured.pop(tool, None)


def find(tool: str) -> str:
    """The path of ``tool``: configured, else ``<state>/bin/<tool>``, else ``PATH``."""
    explicit = _configured.get(tool) or os.environ.get(f"CHARTEST_{tool.upper()}")
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise MissingTool(tool, f"{explicit!r} is configured but is not an executable")
        return found
    pinned = state.bin_dir() / tool
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    found = shutil.which(tool)
    if not found:
        raise MissingTool(tool, f"not in {state.bin_dir()} nor on PATH")
    return found


def source(tool: str) -> str:
    """Where :func:`find` takes ``tool`` from, for the run's header."""
    try:
        path = Path(find(tool))
    except MissingTool:
        return "missing"
    if tool in _configured or os.environ.get(f"CHARTEST_{tool.upper()}"):
        return f"{path} (configured)"
    if path.parent == state.bin_dir():
        return f"{path} (state bin)"
    return f"{path} (PATH)"
