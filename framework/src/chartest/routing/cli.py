"""``python -m chartest route``: which Service answers a request, for a person chasing a routing bug.

    python -m chartest route GET http://webhooks.localhost/whatever
    python -m chartest route --set ingressRoute.rules=seed GET http://webhooks.localhost/whatever
    python -m chartest route --live GET http://webhooks.localhost/wsx      # the real Traefik, locally
    python -m chartest route --cluster --ingress-url http://127.0.0.1:18080 GET http://webhooks.localhost/x
    python -m chartest route --corpus [--live]                            # the whole generated table
    python -m chartest route --lint

The chart is rendered with ``helm template`` (``--chart``, else $CHARTEST_CHART,
else ``chartest_chart`` of ./pyproject.toml's pytest section, else ``chart``; the
release, namespace, API versions and state directory likewise); the answer names the rule that matched, its priority, the
Service:port, and the rules that nearly matched and why not. Exit status 1
when ``--lint`` finds something, or when ``--live``/``--cluster`` disagree
with the prediction.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("route", help="which Service:port serves METHOD URL (predicted, --live, --cluster)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("method", nargs="?", help="GET, POST, ... or WS for a websocket upgrade")
    p.add_argument("url", nargs="?", help="http://<host>/<path>?<query> (the path is sent as written)")
    p.add_argument("--chart", default=None, help="chart directory (default: $CHARTEST_CHART, else ./chart)")
    p.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable)")
    p.add_argument("--set", action="append", default=[], help="k=v, like helm (repeatable)")
    p.add_argument("--release", default=os.environ.get("CHARTEST_RELEASE"), help="release name")
    p.add_argument("--namespace", default=os.environ.get("CHARTEST_NAMESPACE"))
    p.add_argument("--api-versions", action="append", default=None,
                   help="extra .Capabilities.APIVersions (default: traefik.io/v1alpha1 and its IngressRoute)")
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value' (repeatable)")
    p.add_argument("--entry-point", default=None, help="the Traefik entry point the request arrives on")
    p.add_argument("--strict-prefix-matching", action="store_true",
                   help="Ingress provider option strictPrefixMatching (Prefix paths match whole segments)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="also ask the real pinned Traefik, started locally")
    mode.add_argument("--cluster", action="store_true", help="also ask a deployed Traefik (--ingress-url)")
    p.add_argument("--ingress-url", default=os.environ.get("CHARTEST_INGRESS_URL"),
                   help="where the deployed Traefik answers (default: $CHARTEST_INGRESS_URL, else "
                        "http://127.0.0.1:$CHARTEST_HTTP_PORT or 18080)")
    p.add_argument("--corpus", action="store_true", help="print the routing table of the generated corpus")
    p.add_argument("--lint", action="store_true", help="print the routing lints")
    p.set_defaults(func=run)


def ini_settings(cwd: Path | None = None) -> dict:
    """The ``chartest_*`` keys of ``./pyproject.toml``'s pytest section: the CLI's defaults, as in pytest."""
    import tomllib

    path = (cwd or Path.cwd()) / "pyproject.toml"
    try:
        ini = tomllib.loads(path.read_text()).get("tool", {}).get("pytest", {}).get("ini_options", {})
    except (OSError, ValueError):
        return {}
    return {k[len("chartest_"):]: v for k, v in ini.items() if k.startswith("chartest_")}


def _table(args):
    from .. import state
    from ..render.helm import render
    from .table import RoutingTable

    ini = ini_settings()
    if not os.environ.get("CHARTEST_STATE") and ini.get("state"):
        state.configure(ini["state"])
    chart = Path(args.chart or os.environ.get("CHARTEST_CHART") or ini.get("chart") or "chart")
    if not (chart / "Chart.yaml").is_file():
        raise SystemExit(f"chartest route: no Chart.yaml in {chart} (give --chart DIR or set CHARTEST_CHART)")
    api_versions = args.api_versions or ini.get("api_versions") or ["traefik.io/v1alpha1",
                                                                    "traefik.io/v1alpha1/IngressRoute"]
    release = args.release or ini.get("release") or _chart_name(chart)
    namespace = args.namespace or ini.get("namespace") or "default"
    manifests = render(chart, values_files=args.values, set=args.set, release=release,
                       namespace=namespace, api_versions=api_versions)
    return RoutingTable.from_manifests(manifests, strict_prefix_matching=args.strict_prefix_matching,
                                       source=str(chart))


def _chart_name(chart: Path) -> str:
    from .. import yamlload

    return str(yamlload.load((chart / "Chart.yaml").read_text()).get("name") or "release")


def _request(args):
    from .request import Request

    if not args.method or not args.url:
        raise SystemExit("chartest route: give METHOD URL (e.g. GET http://webhooks.localhost/whatever), "
                         "or --corpus / --lint")
    headers = []
    for h in args.header:
        if ":" not in h:
            raise SystemExit(f"chartest route: header {h!r} is not 'Name: value'")
        k, v = h.split(":", 1)
        headers.append((k.strip(), v.strip()))
    ws = args.method.upper() == "WS"
    return Request.from_url("GET" if ws else args.method, args.url, headers, websocket=ws,
                            entry_point=args.entry_point)


def _cluster_target(args) -> tuple[str, int]:
    from .live import ingress_target

    url = args.ingress_url or f"http://127.0.0.1:{os.environ.get('CHARTEST_HTTP_PORT', '18080')}"
    return ingress_target(url)


def _asker(args, table):
    """A context manager yielding ``ask(request) -> Observed``, or None for prediction only."""
    from contextlib import contextmanager

    from .live import LocalTraefik, send

    @contextmanager
    def local():
        started = time.monotonic()
        with LocalTraefik(table) as traefik:
            print(f"(local Traefik started in {time.monotonic() - started:.2f}s)",
                  file=sys.stderr)
            yield traefik.ask

    @contextmanager
    def cluster():
        host, port = _cluster_target(args)
        pool: dict = {}
        try:
            yield lambda req: send(host, port, req, pool)
        finally:
            for conn in pool.values():
                conn.close()

    return local() if args.live else cluster() if args.cluster else None


def run(args) -> int:
    from ..tools import MissingTool
    from .corpus import generate
    from .lints import lint

    try:
        table = _table(args)
    except MissingTool as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a render error is the answer
        print(f"chartest route: cannot render: {exc}", file=sys.stderr)
        return 2
    status = 0
    if args.lint:
        findings = lint(table)
        print("\n".join(map(str, findings)) or "no routing lints")
        status = 1 if findings else 0
        if not args.corpus and not args.method:
            return status
    asker = _asker(args, table)
    try:
        if args.corpus:
            return max(status, _corpus(table, generate(table), asker, judge=not args.cluster))
        req = _request(args)
        decision = table.resolve(req)
        print(decision.explain())
        if asker is None:
            return status
        with asker as ask:
            obs = ask(req)
        where = "local Traefik" if args.live else "deployed Traefik"
        answer = obs.backend or (f"{obs.headers.get('content-type', 'no content type')}: "
                                 f"{obs.detail[:60].strip()!r}")
        print(f"  {where}: status {obs.status}, served by {answer}"
              + (f", upstream path {obs.upstream_path!r}" if obs.upstream_path else ""))
        if args.live and obs.backend not in decision.possible_backends:
            print("  DISAGREES with the prediction")
            return 1
        return status
    except MissingTool as exc:
        print(str(exc), file=sys.stderr)
        return 2


def _corpus(table, requests, asker, judge: bool = True) -> int:
    """The routing table of ``requests``; with an asker, what the real Traefik did beside each
    (``judge``: compare, which needs backends that name themselves, as the local ones do)."""
    decisions = [table.resolve(r) for r in requests]
    observed = None
    if asker is not None:
        with asker as ask:
            observed = [ask(r) for r in requests]
    width = max(len(r.label()) for r in requests)
    bad = 0
    for i, (req, d) in enumerate(zip(requests, decisions)):
        predicted = d.backend or str(d.status)
        line = f"{req.label():<{width}}  {predicted:<12} {d.route.source if d.route else d.reason}"
        if observed is not None:
            o = observed[i]
            if not judge:
                line += f"   real: {o.status} {o.headers.get('content-type', '')}"
            else:
                agrees = o.backend in d.possible_backends or (d.status != 200 and o.status == d.status)
                bad += not agrees
                line += f"   real: {o.backend or o.status}{'' if agrees else '  <-- differs'}"
        print(line)
    print(f"{len(requests)} requests" + (f", {bad} disagreement(s)" if observed is not None and judge else ""))
    return 1 if bad else 0
