"""Fixtures of the unit (render) tier; chartest's plugin provides ``render`` and friends."""

from __future__ import annotations

from pathlib import Path

import pytest

from chart_data import SEED_VALUES


@pytest.fixture(scope="session")
def seed_values_file() -> Path:
    return SEED_VALUES


@pytest.fixture(scope="session")
def default(render):
    """The chart rendered with its defaults."""
    return render()


@pytest.fixture(scope="session")
def seed(render):
    """The chart rendered with the seed article's values.yaml."""
    return render(values_files=[SEED_VALUES])
