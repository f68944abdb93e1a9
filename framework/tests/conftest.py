"""Self-tests of chartest: inner pytest sessions (pytester) on the small charts of ``framework/testdata``.

``project`` builds a throw-away project (a testdata chart, an ini file,
test files) in pytester's directory and runs pytest on it in a subprocess, so
each inner session has chartest's module-level state (state directory,
caches, configured tools) to itself. The inner sessions find helm and kind the
way a user's would: on ``PATH`` (here, the bootstrap's pinned ones prepended).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from selftest_support import (EXAMPLES_CLUSTER, EXAMPLES_HTTP_PORT, LOCAL_NODE_REPOSITORY, LOCAL_WEB_IMAGE,
                              TESTDATA, local_node_image, unavailable)


@pytest.fixture(scope="session")
def tool_dirs() -> list[str]:
    """Directories holding helm (and kind, kubectl) for inner sessions: the pinned ones, else PATH's."""
    from chartest import MissingTool, find_tool

    dirs = []
    for tool in ("helm", "kind", "kubectl"):
        try:
            found = str(Path(find_tool(tool)).parent)
        except MissingTool as exc:
            if tool == "helm":
                unavailable(str(exc))
            continue
        if found not in dirs:
            dirs.append(found)
    return dirs


@pytest.fixture(scope="session")
def go_env() -> dict[str, str]:
    """The outer Go caches: pytester moves HOME, and the module cache must not be downloaded again."""
    go = shutil.which("go")
    if not go:
        return {}
    out = subprocess.run([go, "env", "GOPATH", "GOMODCACHE", "GOCACHE"], capture_output=True, text=True)
    names = ("GOPATH", "GOMODCACHE", "GOCACHE")
    return dict(zip(names, out.stdout.split()))


@pytest.fixture
def inner_env(monkeypatch, pytester, tool_dirs, go_env) -> None:
    """A clean environment for inner sessions: no CHARTEST_* or CI leaking in, tools on PATH.

    Inner sessions render with the helm CLI: each has a fresh state directory, where the render
    engine would be built again (its own tests hand it the built one: ``engine_in``); an engine
    they start ends with them, unless a test asks to keep it."""
    for name in list(os.environ):
        if name.startswith("CHARTEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CHARTEST_RENDER_ENGINE", "cli")
    monkeypatch.setenv("CHARTEST_RENDER_ENGINE_KEEP", "0")  # no engine outlives an inner session
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join([*tool_dirs, os.environ.get("PATH", "")]))
    for name, value in go_env.items():
        monkeypatch.setenv(name, value)


class ChartProject:
    """A throw-away project around one chart; :meth:`run` is ``pytest`` in it (a subprocess)."""

    def __init__(self, pytester: pytest.Pytester):
        self.pytester = pytester
        self.path = pytester.path

    def chart(self, name: str, dest: str | None = None) -> Path:
        target = self.path / (dest or name)
        shutil.copytree(TESTDATA / name, target)
        return target

    def ini(self, **keys: str | list[str]) -> None:
        lines = ["[pytest]"]
        for key, value in keys.items():
            if isinstance(value, list):
                lines.append(f"{key} =")
                lines += [f"    {v}" for v in value]
            else:
                lines.append(f"{key} = {value}")
        (self.path / "pytest.ini").write_text("\n".join(lines) + "\n")

    def test(self, source: str, name: str = "test_inner") -> None:
        self.pytester.makepyfile(**{name: source})

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.fixture(scope="session")
def built_engine() -> Path:
    """The render engine, built once for the whole session (into this repository's state)."""
    from chartest.render import engine_client

    try:
        return engine_client.build()
    except Exception as exc:  # noqa: BLE001 - MissingTool (no go) or a failed build: say which
        unavailable(f"the render engine does not build here: {exc}")


@pytest.fixture
def project(pytester, inner_env) -> ChartProject:
    return ChartProject(pytester)



# -- the kind cluster the example's (and the install test's) cluster tier runs on ---------------

def _docker_image_exists(image: str) -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def examples_cluster(tool_dirs):
    """The environment that points an inner session's cluster tier at the ``chartest-examples`` kind
    cluster (kept between inner sessions, deleted when this session ends if this session made it)."""
    node_image = local_node_image()
    if node_image is None:
        unavailable(f"no {LOCAL_NODE_REPOSITORY} image: run the bootstrap (`make node-image`) first")
    for image in (node_image, LOCAL_WEB_IMAGE):
        if not _docker_image_exists(image):
            unavailable(f"docker image {image} is missing: run the bootstrap (`make setup`) first")
    try:
        from chartest import find_tool

        kind = find_tool("kind")
    except Exception as exc:  # noqa: BLE001 - MissingTool: one line saying how to get kind
        unavailable(str(exc))
    existed = EXAMPLES_CLUSTER in subprocess.run([kind, "get", "clusters"], capture_output=True,
                                                 text=True).stdout.split()
    yield {"CHARTEST_CLUSTER": EXAMPLES_CLUSTER, "CHARTEST_HTTP_PORT": EXAMPLES_HTTP_PORT,
           "CHARTEST_NODE_IMAGE": node_image, "CHARTEST_KEEP_CLUSTER": "true"}
    if not existed:
        subprocess.run([kind, "delete", "cluster", "--name", EXAMPLES_CLUSTER], capture_output=True)
