"""Everything under tests/e2e needs a cluster: mark it so, and so the summary counts it."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
