"""Render the instrumented copy with every request the tests made of the chart; record the probes.

A :class:`Collector` is a :func:`chartest.render.helm.add_observer` observer:
each distinct request on the chart under test is noted and its measurement
queued on the render prefetch at once, so it runs while the tests do;
:meth:`Collector.finish` then collects them all and adds up the probes reached.
Its data is a small JSON document that pytest-xdist workers write and the
controller merges (:func:`merge`).

Where the render engine renders, a request is measured by its ``probes`` op
(``render/engine/probes.go``): the copy run with the request's values as helm
would, answering only the markers each top-level template reached, cached in
the render cache. Elsewhere, or when the op fails, the copy is rendered through
:func:`chartest.render.helm.render` and the markers read from its manifests.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..render import helm, renderers
from ..render.manifests import Manifests
from .instrument import Instrumented

MARKER = re.compile(r"⁅([0-9]+)⁆")
# how helm reports an error inside a template (anything else fails before templates run:
# values schema, kubeVersion, dependencies; such a render reaches no template, as in the chart)
TEMPLATE_ERROR = re.compile(r"execution error at \(|template: |parse error")
# the top-level template a render failed in: the outermost location of helm's message
FAILED_TEMPLATE = re.compile(r"(?:template: |execution error (?:at|in) \()([^:()\s]+)")
COVERAGE_KIND = "ChartestCoverage"
PROBES_OP = "probes"  # the render engine's op that measures a request on the copy
# helm flags that change what helm prints, not what it renders: the instrumented copy must print all
_OUTPUT_FLAGS = {"--show-only": 1, "-s": 1, "--output-dir": 1, "--validate": 0, "--skip-tests": 0}


def _render_kwargs(request: dict) -> dict[str, Any]:
    kw = {k: v for k, v in request.items() if k != "chart_dir"}
    args, out, skip = list(kw.get("extra_args") or ()), [], 0
    for a in args:
        if skip:
            skip -= 1
            continue
        name = a.split("=", 1)[0]
        if name in _OUTPUT_FLAGS:
            skip = _OUTPUT_FLAGS[name] if "=" not in a else 0
            continue
        out.append(a)
    kw["extra_args"] = out
    return kw


def hits_of_render(inst: Instrumented, manifests: Manifests) -> set[int]:
    """The probes a render of the instrumented copy reached, in helm's execution order up to the
    first ``fail`` or failed ``required`` (where the real render stopped)."""
    by_file: dict[str, list[int]] = {}
    for r in manifests:
        if r.get("kind") == COVERAGE_KIND:
            by_file[r["metadata"]["name"]] = [int(m) for m in MARKER.findall(str(r.get("probes") or ""))]
    return hits_in_order(inst, by_file)


def hits_of_probes(inst: Instrumented, reached: dict[str, list[int]]) -> set[int]:
    """The probes of the engine's ``probes`` answer (markers per top-level template, by helm's
    name of the copy's template), as :func:`hits_of_render` counts them."""
    by_file: dict[str, list[int]] = {}
    for helm_name, markers in reached.items():
        file = inst.file_of(helm_name)
        if file is not None:
            by_file[file] = markers
    return hits_in_order(inst, by_file)


def hits_in_order(inst: Instrumented, by_file: dict[str, list[int]]) -> set[int]:
    """The markers each template file reached, in helm's execution order of the files, up to the
    first stop probe."""
    hits: set[int] = set()
    stops = inst.stop_probes
    for file in inst.execution_order():
        reached = by_file.get(file, ())
        stopped = stops.intersection(reached)
        if stopped:
            hits.update(reached[:min(reached.index(stop) for stop in stopped)])
            return hits
        hits.update(reached)
    return hits


class Collector:
    """Notes the requests made of ``inst.source`` and measures them with ``inst``."""

    def __init__(self, inst: Instrumented):
        self.inst = inst
        self._requests: dict[str, dict] = {}
        self.calls = 0

    def __call__(self, request: dict) -> None:
        if Path(request["chart_dir"]) != self.inst.source:
            return  # another chart, or the instrumented copy itself
        self.calls += 1
        key = json.dumps({k: v for k, v in request.items() if k != "chart_dir"}, sort_keys=True, default=str)
        if key in self._requests:
            return
        kw = _render_kwargs(request)
        self._requests[key] = kw
        helm.prefetch(self.inst.chart_dir, [kw], op=self._op())

    def noted(self) -> list[dict]:
        """The distinct requests noted so far (keyword arguments of ``render`` for the copy)."""
        return list(self._requests.values())

    @staticmethod
    def _op() -> str | None:
        """The engine op that measures a request, where the engine renders."""
        return PROBES_OP if renderers.chosen().name == "engine" else None

    def measure(self, kw: dict) -> tuple[str, set[int], str]:
        """The probes one request reached: ``("ok", hits, "")``; ``("partial", hits, file)`` when the
        copy errors in ``file`` (for another reason than fail/required), counting the templates
        helm ran before it; ``("before", set(), error)`` when it fails before any template runs;
        ``("failed", set(), error)`` when nothing can be counted."""
        answer = helm.engine_answer(PROBES_OP, self.inst.chart_dir, **kw) if self._op() else None
        if answer is not None:
            if answer["ok"]:
                return "ok", hits_of_probes(self.inst, answer["answer"]), ""
            error = " ".join(answer["stderr"].split())
            if answer["stage"] == "before" and not TEMPLATE_ERROR.search(error):
                return "before", set(), error
            # it failed in the templates (or could not measure): measured below, as helm reports it
        try:
            return "ok", hits_of_render(self.inst, helm.render(self.inst.chart_dir, **kw)), ""
        except helm.RenderError as err:
            error = " ".join(str(err).split())
        if not TEMPLATE_ERROR.search(error):
            return "before", set(), error
        match = FAILED_TEMPLATE.search(error)
        file = self.inst.file_of(match.group(1)) if match else None
        if file is None:
            return "failed", set(), error
        try:
            manifests = helm.render(self.inst.stopped_before(file), **kw)
        except helm.RenderError:
            return "failed", set(), error
        return "partial", hits_of_render(self.inst, manifests), file

    def finish(self) -> dict:
        """Render every noted request's instrumented copy; the data :func:`merge` adds up."""
        hits: Counter[int] = Counter()
        failed: list[str] = []
        partial: list[str] = []
        before_templates = 0
        # what is still missing now runs at once, in parallel (a session end may have dropped it)
        helm.prefetch(self.inst.chart_dir, self._requests.values(), op=self._op())
        for kw in self._requests.values():
            status, reached, detail = self.measure(kw)
            hits.update(reached)
            if status == "before":
                before_templates += 1
            elif status == "failed":
                failed.append(detail[:300])
            elif status == "partial":
                partial.append(detail)
        return {"source": str(self.inst.source), "home": str(self.inst.chart_dir.parent),
                "calls": self.calls, "requests": sorted(hashlib.sha256(k.encode()).hexdigest()[:16]
                                                        for k in self._requests), "failed": failed,
                "before_templates": before_templates, "partial": partial,
                "hits": {str(k): v for k, v in hits.items()}}


def merge(datas: Iterable[dict]) -> dict:
    """One run's data from the data of its processes (pytest-xdist workers)."""
    total: dict[str, Any] = {"calls": 0, "requests": set(), "before_templates": 0, "failed": [], "partial": [],
                             "hits": Counter()}
    for data in datas:
        total.setdefault("source", data["source"])
        total.setdefault("home", data["home"])
        total["calls"] += data["calls"]
        total["requests"] |= set(data["requests"])  # distinct over workers
        total["before_templates"] += data.get("before_templates", 0)
        total["failed"] += data["failed"]
        total["partial"] += data.get("partial", [])
        total["hits"].update({int(k): v for k, v in data["hits"].items()})
    total["requests"] = len(total["requests"])
    return total
