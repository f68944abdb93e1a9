"""Non-deterministic templates (randAlphaNum) are caught: in snapshots even with a warm render
cache, by --check-determinism and by the assert_deterministic fixture; masking them makes a snapshot hold."""

from __future__ import annotations

import pytest

SNAPSHOTS = """
    def test_warm_the_cache(render):
        render()

    def test_unmasked_snapshot(render, snapshot):
        snapshot.assert_match(render(), "settings")

    def test_masked_snapshot(render, snapshot):
        snapshot.assert_match(render(), "masked", mask=[("ConfigMap", "data.sessionKey")])

    def test_assert_deterministic(assert_deterministic):
        assert_deterministic()
"""


@pytest.fixture
def random_project(project):
    project.chart("random")
    project.ini(chartest_chart="random")
    return project


def test_snapshot_and_fixture_catch_random_values_with_a_warm_cache(random_project):
    random_project.test(SNAPSHOTS)
    for run in ("cold cache", "warm cache"):
        result = random_project.run()
        result.assert_outcomes(passed=2, failed=2)
        out = result.stdout.str()
        assert "snapshot settings: the chart renders differently each time" in out, run
        assert "sessionKey" in out.split("snapshot settings:")[1], run
        assert "the chart renders differently each time:\n  ConfigMap/random-settings: changes between " \
               "renders: sessionKey" in out.replace("E   ", "").replace("\nE ", "\n"), run
    assert (random_project.path / ".chartest" / "cache" / "render").is_dir()  # the cache was there
    assert (random_project.path / "__snapshots__" / "masked.yaml").is_file()
    assert not (random_project.path / "__snapshots__" / "settings.yaml").exists()
    assert "sessionKey: <masked>" in (random_project.path / "__snapshots__" / "masked.yaml").read_text()


def test_check_determinism_option(random_project):
    random_project.test("""
        def test_render(render):
            render()
    """)
    random_project.run().assert_outcomes(passed=1)
    result = random_project.run("--check-determinism")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--check-determinism: two renders of the same values differ:*",
                                 "*ConfigMap/random-settings: changes between renders: sessionKey*"])


def test_deterministic_chart_passes(project):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        def test_all(render, snapshot, assert_deterministic):
            snapshot.assert_match(render(), "minimal")
            assert_deterministic()
    """)
    project.run("--check-determinism").assert_outcomes(passed=1)
