"""The README documents what the code offers: every setting, every fixture, every pinned version."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from chartest import pins
from chartest.settings import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_its_three_names(setting):
    for name in (setting.option, setting.env, setting.ini):
        assert f"`{name}`" in README, f"README's settings table lacks {name}"


def test_every_fixture_of_the_plugin_is_in_the_readme():
    import chartest.plugin as plugin

    fixtures = [name for name, obj in vars(plugin).items()
                if hasattr(obj, "_fixture_function_marker") or type(obj).__name__ == "FixtureFunctionDefinition"]
    assert len(fixtures) > 10, "no fixtures found: the check would be vacuous"
    missing = [name for name in fixtures if f"`{name}" not in README]
    assert not missing, f"fixtures the README does not name: {missing}"


def test_every_pinned_version_is_named_in_the_readme():
    data = pins.load()
    missing = [f"{table}.{key} = {value}" for table, entries in data.items() for key, value in entries.items()
               if value != "local" and value.split("@")[0].rsplit(":", 1)[-1].lstrip("v") not in README]
    assert not missing, f"pinned versions the README does not name: {missing}"
