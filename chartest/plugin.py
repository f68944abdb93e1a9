"""The chartest pytest plugin: command-line options and fixtures.

Loaded through the ``pytest11`` entry point. Fixtures live in two modules, one
per tier: :mod:`chartest.render_fixtures` (``helm template``, no cluster) and
:mod:`chartest.cluster_fixtures` (kind, helm install, Traefik, clients).
"""

from __future__ import annotations

from .cluster_fixtures import *  # noqa: F401,F403
from .cluster_fixtures import addoption as _cluster_addoption
from .cluster_fixtures import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401
from .render_fixtures import *  # noqa: F401,F403
from .render_fixtures import addoption as _render_addoption
from .render_fixtures import pytest_configure as _render_configure
from .render_fixtures import pytest_pyfunc_call  # noqa: F401


def pytest_addoption(parser):
    _render_addoption(parser)
    _cluster_addoption(parser)


def pytest_configure(config):
    from . import toolchain

    _render_configure(config)
    toolchain.on_path()  # the pinned helm, kind and kubectl come first
