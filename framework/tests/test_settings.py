"""Settings: option > env > ini > default, paths against the rootdir, header and --help list them all."""

from __future__ import annotations

import json

import pytest

from chartest.settings import SETTINGS

DUMP_SETTINGS = """
import json
from chartest.settings import SETTINGS

def test_dump(chartest_settings, pytestconfig):
    out = {s.name: [str(getattr(chartest_settings, s.name)), chartest_settings.source(s.name)]
           for s in SETTINGS}
    (pytestconfig.rootpath / "settings.json").write_text(json.dumps(out))
"""


def dumped(project) -> dict:
    return json.loads((project.path / "settings.json").read_text())


@pytest.mark.parametrize("option,env,ini,expected,source", [
    ("from-option", "from-env", "from-ini", "from-option", "option --release"),
    (None, "from-env", "from-ini", "from-env", "env CHARTEST_RELEASE"),
    (None, None, "from-ini", "from-ini", "ini chartest_release"),
    (None, None, None, "minimal", "default"),  # the chart's own name
])
def test_precedence(project, monkeypatch, option, env, ini, expected, source):
    project.chart("minimal")
    project.ini(chartest_chart="minimal", **({"chartest_release": ini} if ini else {}))
    project.test(DUMP_SETTINGS)
    if env:
        monkeypatch.setenv("CHARTEST_RELEASE", env)
    result = project.run(*(["--release", option] if option else []))
    result.assert_outcomes(passed=1)
    assert dumped(project)["release"] == [expected, source]


def test_relative_paths_resolve_against_the_rootdir_not_the_cwd(project, monkeypatch):
    project.chart("minimal", dest="charts/minimal")
    project.ini(chartest_chart="charts/minimal", chartest_values="values/a.yaml")
    project.test(DUMP_SETTINGS)
    (project.path / "sub").mkdir()
    monkeypatch.chdir(project.path / "sub")
    project.run(str(project.path)).assert_outcomes(passed=1)
    got = dumped(project)
    assert got["chart"] == [str(project.path / "charts" / "minimal"), "ini chartest_chart"]
    assert got["values"][0] == f"[PosixPath('{project.path / 'values' / 'a.yaml'}')]"
    assert got["state_dir"] == [str(project.path / ".chartest"), "default"]
    # an option's relative path is resolved against the rootdir too
    project.run(str(project.path), "--chartest-state", "st").assert_outcomes(passed=1)
    assert dumped(project)["state_dir"] == [str(project.path / "st"), "option --chartest-state"]


def test_header_lists_every_setting_with_its_source(project, monkeypatch):
    project.chart("minimal")
    project.ini(chartest_chart="minimal", chartest_namespace="ns-from-ini")
    project.test("def test_nothing():\n    pass\n")
    monkeypatch.setenv("CHARTEST_CLUSTER", "env-cluster")
    result = project.run("--kube-version", "v1.33.0")
    result.assert_outcomes(passed=1)
    header = result.stdout.str()
    for s in SETTINGS:
        assert f"  {s.name} = " in header, f"{s.name} missing from the header"
    result.stdout.fnmatch_lines([
        "chartest settings (value  [[]source[]]):",
        f"*chart = {project.path / 'minimal'}  [[]ini chartest_chart[]]",
        "*namespace = ns-from-ini  [[]ini chartest_namespace[]]",
        "*kube_version = v1.33.0  [[]option --kube-version[]]",
        "*cluster_name = env-cluster  [[]env CHARTEST_CLUSTER[]]",
        "*http_port = 18080  [[]default[]]",
    ])


def test_help_lists_every_option_env_var_and_ini_key(project):
    project.ini()
    help_text = project.run("--help").stdout.str()
    flat = " ".join(help_text.split())
    for s in SETTINGS:
        if s.option:
            assert s.option in help_text, s.option
        assert s.env in flat, s.env
        assert s.ini in help_text, s.ini
