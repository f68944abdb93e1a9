"""examples/hello-chart's own tests, run through pytester as its authors would run them:
the render tier anywhere, the cluster tier on a kind cluster without an ingress controller."""

from __future__ import annotations

import shutil

from selftest_support import EXAMPLES, LOCAL_CLUSTER_CONFTEST

HELLO = EXAMPLES / "hello-chart"


def copy_example(project) -> None:
    shutil.copytree(HELLO, project.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".chartest", "__pycache__", ".pytest_cache"))


def test_render_tier(project):
    copy_example(project)
    result = project.run("tests/test_render.py")
    result.assert_outcomes(passed=17)
    assert (project.path / ".chartest" / "cache" / "render").is_dir()  # state in the user's rootdir


def test_render_tier_snapshot_holds_in_ci(project, monkeypatch):
    copy_example(project)
    monkeypatch.setenv("CI", "true")  # strict: the committed snapshot must exist and match
    project.run("tests/test_render.py", "-k", "snapshot").assert_outcomes(passed=1)


def test_cluster_tier_on_kind(project, monkeypatch, examples_cluster):
    copy_example(project)
    (project.path / "conftest.py").write_text(LOCAL_CLUSTER_CONFTEST)
    for name, value in examples_cluster.items():
        monkeypatch.setenv(name, value)
    result = project.run("tests/test_cluster.py", "-rs")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*chartest e2e: 1 passed, 0 failed, 0 skipped*"])
