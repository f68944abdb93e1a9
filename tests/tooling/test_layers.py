"""The layers import one way (ARCHITECTURE.md): framework <- bootstrap <- app support.

Read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK = ROOT / "framework" / "src" / "chartest"
# what the bootstrap may use of the framework: utilities with no pytest behind them
FRAMEWORK_UTILITIES = {"chartest", "chartest.pins", "chartest.shell", "chartest.progress", "chartest.state",
                       "chartest.gomod", "chartest.browser", "chartest.tools",
                       "chartest.render.engine_client",  # the bootstrap builds the render engine ahead
                       "chartest.routing.backends"}  # and the routing backends (chartest-echo); no pytest behind either


def imports_of(folder: Path) -> dict[str, set[str]]:
    """Every module each file of ``folder`` imports (absolute names; relative ones left out)."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(folder: Path, forbidden) -> list[str]:
    return [f"{file}: imports {name}" for file, names in imports_of(folder).items()
            for name in sorted(names) if forbidden(name)]


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_framework_imports_neither_the_bootstrap_nor_the_app():
    assert not offenders(FRAMEWORK, lambda n: top(n) in {"bootstrap", "webhooks_testing", "webhooks"})


def test_the_bootstrap_uses_no_pytest_and_only_framework_utilities():
    def forbidden(name: str) -> bool:
        if top(name) in {"pytest", "_pytest", "webhooks_testing", "webhooks"}:
            return True
        if top(name) == "chartest":
            module = name if name in FRAMEWORK_UTILITIES else name.rpartition(".")[0]
            return module not in FRAMEWORK_UTILITIES
        return False

    assert not offenders(ROOT / "bootstrap", forbidden)


def test_the_app_knows_nothing_of_its_tests():
    assert not offenders(ROOT / "webhooks", lambda n: top(n) in {"chartest", "bootstrap", "webhooks_testing"})


@pytest.mark.parametrize("layer", ["framework/src/chartest", "bootstrap", "webhooks_testing"])
def test_a_layer_check_can_fail(layer):
    """The scanner sees imports at all (an empty result would make the checks above vacuous)."""
    assert any(imports_of(ROOT / layer).values())


PUBLIC_MODULES = {"chartest", "chartest.routing", "chartest.gate", "chartest.pins"}


@pytest.mark.parametrize("folder", ["tests/unit", "tests/e2e", "tests/services", "tests/any_cluster", "examples"])
def test_the_repository_tests_use_only_the_frameworks_public_api(folder):
    """chartest's users (this repository's tests, the example) import its public modules only."""
    def is_module(name: str) -> bool:
        path = FRAMEWORK.parent.joinpath(*name.split("."))
        return path.with_suffix(".py").is_file() or path.is_dir()

    def internal(name: str) -> bool:  # a chartest module (not a name imported from one) that is not public
        return top(name) == "chartest" and is_module(name) and name not in PUBLIC_MODULES

    assert not offenders(ROOT / folder, internal)


def test_test_module_basenames_are_unique():
    """pytest imports test modules by basename (rootdir, no packages): a second one fails collection."""
    seen: dict[str, list[str]] = {}
    for folder in ("tests", "framework/tests"):
        for path in (ROOT / folder).rglob("test_*.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}
