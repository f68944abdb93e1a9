"""The render engine against the real ``helm template`` over every render the unit tier asks for.

The unit tier runs once (as it would: engine, render cache) with a render observer that records
every request; each distinct request is then rendered anew through the engine and through the
real helm CLI, and the two must agree byte for byte: the manifest stream, or helm's error text;
and the documents the engine parsed itself must be what PyYAML makes of that stream. What helm
itself draws anew on every render (``randAlphaNum`` credentials, checksums of them) differs between
two CLI renders of the same request too: those lines, and only those, may differ.
This test always runs the real CLI, whatever the ``render_engine`` setting says.

Template coverage measures the same requests on the chart's instrumented copy with the engine's
``probes`` op; over every one of them it must count what a render of the copy through helm counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bootstrap.paths import REPO_ROOT
import pytest

from chartest import MissingTool, find_tool, unavailable
from chartest.coverage import Collector, instrument
from chartest.coverage.collect import PROBES_OP
from chartest.render import engine_client, helm, renderers
from chartest.render.helm import _Job
from chartest.render.manifests import parse_manifests

RECORDER = '''
import json, os
from chartest.render import helm

_seen = []
helm.add_observer(_seen.append)


def pytest_sessionfinish(session):
    with open(os.environ["RENDER_RECORD"], "w") as fh:
        json.dump(_seen, fh, default=str)
'''


@pytest.fixture(scope="module")
def unit_tier_requests(tmp_path_factory) -> list[dict]:
    """Every distinct render request the unit tier makes, recorded in a run of its own."""
    tmp_path = tmp_path_factory.mktemp("unit-tier")
    (tmp_path / "render_recorder.py").write_text(RECORDER)
    record = tmp_path / "renders.json"
    env = {**os.environ, "RENDER_RECORD": str(record),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
                           "-p", "render_recorder", "-x"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    distinct = {json.dumps(r, sort_keys=True): r for r in json.loads(record.read_text())}
    return list(distinct.values())


def _job(request: dict) -> _Job | None:
    """The job of a recorded request, None if it used a chart or values file that is gone (a test's
    temporary copy)."""
    paths = [Path(request["chart_dir"]), *map(Path, request["values_files"])]
    if not all(p.exists() for p in paths):
        return None
    # keyed, as in a session: the engine keeps the loaded chart by its digest (the renderers are
    # asked directly, so no render cache answers)
    return _Job(request["chart_dir"], request["values"], request["values_files"], request["release"],
                request["namespace"], request["set"], request["api_versions"], request["kube_version"],
                request["extra_args"])


def _same_documents(ours: dict) -> bool:
    """The documents the engine parsed (if it did) are what PyYAML makes of its stream, type for type."""
    if ours.get("docs") is None:
        return True
    pyyaml = [[r.source, dict(r)] for r in parse_manifests(ours["stdout"])]
    return [json.dumps(d, sort_keys=True) for d in ours["docs"]] == [json.dumps(d, sort_keys=True) for d in pyyaml]


def _same_output(ours: str | None, theirs: str | None, again: str | None) -> bool:
    """``ours`` is ``theirs`` byte for byte, except on lines where helm's own second render
    (``again``) differs from its first: what the chart draws at random."""
    if ours == theirs:
        return True
    mine, first, second = (str(x or "").split("\n") for x in (ours, theirs, again))
    if not (len(mine) == len(first) == len(second)):
        return False
    random_lines = {i for i, (a, b) in enumerate(zip(first, second)) if a != b}
    return bool(random_lines) and all(m == f or i in random_lines for i, (m, f) in enumerate(zip(mine, first)))


def _engine_built() -> None:
    try:
        find_tool("helm")
        engine_client.build()
    except (MissingTool, Exception) as exc:  # noqa: BLE001 - no helm, no go, or a failed build
        unavailable(f"the differential test needs helm and the render engine: {exc}")


def test_the_engine_renders_every_request_of_the_unit_tier_as_helm_template(unit_tier_requests):
    _engine_built()
    jobs = [job for job in map(_job, unit_tier_requests) if job is not None]
    assert len(jobs) >= 50, f"only {len(jobs)} distinct renders recorded: the comparison would prove little"
    engine, cli = renderers.EngineRenderer(fallback=None), renderers.CliRenderer()
    engine_results = [f.result() for f in [engine.submit(job) for job in jobs]]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        cli_results = list(pool.map(cli.render, jobs))
        cli_again = list(pool.map(cli.render, jobs))
    differ = []
    for job, ours, theirs, again in zip(jobs, engine_results, cli_results, cli_again):
        key = "stdout" if theirs["ok"] else "stderr"
        if (ours["ok"] != theirs["ok"] or not _same_output(ours.get(key), theirs.get(key), again.get(key))
                or not _same_documents(ours)):
            differ.append(f"{' '.join(renderers.helm_argv(job))} values={job.values}:\n"
                          f"  engine: {str(ours.get('stdout') or ours.get('stderr'))[:300]}\n"
                          f"  helm:   {str(theirs.get(key))[:300]}")
    failures = sum(not r["ok"] for r in cli_results)
    parsed = sum(r.get("docs") is not None for r in engine_results)
    assert parsed >= len(jobs) - failures - 5, f"the engine parsed only {parsed} of {len(jobs)} renders itself"
    assert not differ, f"{len(differ)} of {len(jobs)} renders differ:\n" + "\n".join(differ[:5])
    assert failures, "no failing render compared: the error path would be unproven"


def test_coverage_counts_every_request_of_the_unit_tier_as_a_render_of_the_copy_does(unit_tier_requests,
                                                                                      monkeypatch):
    """The probes op and a render of the instrumented copy through helm (the path where the engine
    does not run) reach the same probes for every request the unit tier makes of the chart."""
    _engine_built()
    if renderers.chosen().name != "engine":
        unavailable("the probes op needs the render engine (render_engine setting)")
    collector = Collector(instrument(REPO_ROOT / "chart"))
    for request in unit_tier_requests:
        if _job(request) is not None:
            collector(request)  # notes the requests of the chart itself, and starts their ops
    requests = collector.noted()
    assert len(requests) >= 50, f"only {len(requests)} requests of the chart: the comparison would prove little"
    answered = [helm.engine_answer(PROBES_OP, collector.inst.chart_dir, **kw) for kw in requests]
    assert sum(a is not None and a["ok"] for a in answered) >= len(requests) / 2, "the op hardly ever answered"
    with_op = [collector.measure(kw) for kw in requests]
    monkeypatch.setattr(Collector, "_op", staticmethod(lambda: None))
    through_helm = [collector.measure(kw) for kw in requests]
    def outcome(measured: tuple[str, set[int], str]) -> tuple:
        status, hits, detail = measured  # detail: the failing template of a partial one, else helm's error
        return status, hits, detail if status == "partial" else ""

    differ = [f"{kw}: op {a[0]} {len(a[1])} probes {a[2][:100]}, helm {b[0]} {len(b[1])} probes {b[2][:100]}"
              for kw, a, b in zip(requests, with_op, through_helm) if outcome(a) != outcome(b)]
    assert not differ, f"{len(differ)} of {len(requests)} requests measured differently:\n" + "\n".join(differ[:5])
    assert any(status == "before" for status, _, _ in through_helm), "no failing render compared"
