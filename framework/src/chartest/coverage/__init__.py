"""Template coverage: which lines, branches and defines of a chart the tests rendered.

:mod:`.instrument` writes an instrumented copy of the chart (a Go program built
on first use parses every template with ``text/template/parse``) and loads its
probe map; :mod:`.collect` renders that copy with every request the tests made
of the real chart and records the probes reached; :mod:`.report` turns probes
and hits into per-template line and branch coverage (term, lcov, Cobertura,
HTML). The pytest side is :mod:`chartest.plugin.coverage_plugin` (``--chart-cov``).
"""

from .collect import Collector, hits_of_probes, hits_of_render
from .instrument import Instrumented, instrument
from .report import Coverage

__all__ = ["Collector", "Coverage", "Instrumented", "hits_of_probes", "hits_of_render", "instrument"]
