"""chartest: test a Helm chart for real, from ``helm template`` to a cluster behind an ingress.

The public API is what ``__all__`` lists; everything is loaded on first use,
so importing chartest (and its pytest plugin, for a render-only run) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0"

_EXPORTS = {
    # render tier (the function is render_chart: chartest.render is the tier's package)
    "render_chart": "chartest.render.helm",
    "RenderError": "chartest.render.helm",
    "render_differences": "chartest.render.helm",
    "Manifests": "chartest.render.manifests",
    "Resource": "chartest.render.manifests",
    "PathError": "chartest.render.manifests",
    "Snapshot": "chartest.render.snapshots",
    "mask_manifests": "chartest.render.snapshots",
    "SchemaSet": "chartest.render.schemas",
    "SchemaViolation": "chartest.render.schemas",
    # assertions
    "check_restricted": "chartest.assertions.podsecurity",
    "check_workload": "chartest.assertions.podsecurity",
    "assert_restricted": "chartest.assertions.podsecurity",
    "PodSecurityError": "chartest.assertions.podsecurity",
    # cluster tier
    "Cluster": "chartest.cluster.kind",
    "Release": "chartest.cluster.release",
    "Releases": "chartest.cluster.release",
    "deep_merge": "chartest.cluster.kind",
    "Registry": "chartest.cluster.registry",
    "package_chart": "chartest.cluster.registry",
    "push_chart": "chartest.cluster.registry",
    # configuration and tools
    "Settings": "chartest.settings",
    "MissingTool": "chartest.tools",
    "CommandError": "chartest.shell",
    "find_tool": "chartest.tools",
    "state_dir": "chartest.state",
    "unavailable": "chartest.plugin.cluster_fixtures",
    "installing": "chartest.plugin.cluster_fixtures",
    "visible": "chartest.plugin.cluster_fixtures",
}
_RENAMED = {"render_chart": "render", "find_tool": "find"}
__all__ = sorted(_EXPORTS) + ["__version__", "pins"]

if TYPE_CHECKING:  # pragma: no cover
    from .assertions.podsecurity import (PodSecurityError, assert_restricted, check_restricted,  # noqa: F401
                                         check_workload)
    from .cluster.kind import Cluster, deep_merge  # noqa: F401
    from .cluster.registry import Registry, package_chart, push_chart  # noqa: F401
    from .cluster.release import Release, Releases  # noqa: F401
    from .plugin.cluster_fixtures import installing, unavailable, visible  # noqa: F401
    from .state import state_dir  # noqa: F401
    from .render.helm import RenderError, render_differences  # noqa: F401
    from .render.helm import render as render_chart  # noqa: F401
    from .render.manifests import Manifests, PathError, Resource  # noqa: F401
    from .render.schemas import SchemaSet, SchemaViolation  # noqa: F401
    from .render.snapshots import Snapshot, mask_manifests  # noqa: F401
    from .settings import Settings  # noqa: F401
    from .shell import CommandError  # noqa: F401
    from .tools import MissingTool  # noqa: F401
    from .tools import find as find_tool  # noqa: F401


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chartest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
