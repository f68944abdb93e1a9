"""This repository's pytest wiring: chartest (loaded by its entry point) fitted to the webhooks chart.

The settings are in pyproject.toml (``chartest_*`` keys); the fixtures that
fit the cluster tier to this chart and the webhooks app are in
:mod:`webhooks_testing.fixtures`.
"""

pytest_plugins = ["pytester", "webhooks_testing.fixtures"]
