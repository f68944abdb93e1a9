"""The README's "Use chartest on your chart", executed: a fresh venv outside the repository, a
non-editable install of the framework's wheel, an ini file naming a chart that is not in the
repository, one render test and one helm_release test: green, and nothing written into the package."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from selftest_support import EXAMPLES, LOCAL_CLUSTER_CONFTEST, REPO

APP_PACKAGES = {"starlette", "uvicorn", "pymongo", "nats-py", "websockets", "motor"}

SECTION = "## Use chartest on your chart"


def readme_steps() -> tuple[str, str, str]:
    """The ini and the two test files, exactly as the README's section shows them."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    ini = [body for lang, body in blocks if lang == "ini"]
    tests = [textwrap.dedent(body) for lang, body in blocks if lang == "python"]
    assert len(ini) == 1 and len(tests) == 2, f"the README's section changed shape: {[b[0] for b in blocks]}"
    return textwrap.dedent(ini[0]), tests[0], tests[1]


INI, RENDER_TEST, CLUSTER_TEST = readme_steps()


def timed(what: str, argv: list, **kw) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    print(f"{what}: {time.monotonic() - started:.1f}s")
    assert done.returncode == 0, f"{what} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """chartest's wheel, built from a copy of the repository's framework/ (the build leaves
    build/ and egg-info behind; the repository stays untouched). versions.toml stays a symlink."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(REPO / "framework", src / "framework", symlinks=True,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests", "testdata"))
    shutil.copy(REPO / "versions.toml", src / "versions.toml")
    assert (src / "framework" / "src" / "chartest" / "versions.toml").is_symlink()
    out = tmp_path_factory.mktemp("wheel")
    timed("build the wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                              str(src / "framework")])
    (built,) = out.glob("chartest-*.whl")
    with zipfile.ZipFile(built) as zf:
        info = zf.getinfo("chartest/versions.toml")
        assert (info.external_attr >> 16) & 0o170000 != 0o120000, "versions.toml is a symlink in the wheel"
        assert "helm" in tomllib.loads(zf.read(info).decode())["tools"], "versions.toml lacks the tool pins"
        names = zf.namelist()
    assert not [n for n in names if n.split("/")[0] in ("webhooks", "webhooks_testing", "bootstrap")], names
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment outside the repository with only the wheel (and its dependencies)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    assert not env_dir.is_relative_to(REPO)
    timed("create the venv", [sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    pip = [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "--disable-pip-version-check"]
    timed("pip install the wheel", [*pip, "install", "-q", "--prefer-binary", str(wheel)])
    listed = timed("pip list", [*pip, "list", "--format=freeze"]).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert not installed & APP_PACKAGES, f"the framework pulls in the app: {installed & APP_PACKAGES}"
    assert "chartest" in installed
    return env_dir


def test_fresh_venv_render_and_release_green(venv, tmp_path_factory, examples_cluster, tool_dirs, go_env):
    python = venv / "bin" / "python"
    package = Path(timed("locate chartest", [python, "-c", "import chartest, os; "
                                             "print(os.path.dirname(chartest.__file__))"],
                         cwd="/").stdout.strip())
    assert package.is_relative_to(venv), f"chartest is imported from {package}, not the venv"
    before = tree_digest(package)

    project = tmp_path_factory.mktemp("my-project")
    shutil.copytree(EXAMPLES / "hello-chart", project / "hello-chart",
                    ignore=shutil.ignore_patterns("tests", "pytest.ini", ".chartest", "__pycache__"))
    (project / "pytest.ini").write_text(INI)
    (project / "test_render.py").write_text(RENDER_TEST)
    (project / "test_cluster.py").write_text(CLUSTER_TEST)
    (project / "conftest.py").write_text(LOCAL_CLUSTER_CONFTEST)  # this machine: local images only

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHARTEST_", "PYTEST_", "VIRTUAL_ENV"))}
    env.update(examples_cluster, **go_env, PYTHONDONTWRITEBYTECODE="1",
               PATH=os.pathsep.join([str(venv / "bin"), *tool_dirs, os.environ.get("PATH", "")]))
    env.pop("CI", None)
    done = timed("pytest in the project", [python, "-m", "pytest", "-p", "no:cacheprovider", "-rs"],
                 cwd=project, env=env)
    assert "2 passed" in done.stdout, done.stdout
    assert "chartest e2e: 1 passed, 0 failed, 0 skipped" in done.stdout

    assert tree_digest(package) == before, "chartest wrote into its installed package"
    assert not (package / ".chartest").exists()
    assert (project / ".chartest" / "cache" / "render").is_dir()
