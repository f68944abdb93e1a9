"""``python -m webhooks_testing``: the Makefile's commands for this repository.

``setup`` (bootstrap + the app's images), ``images``, ``cluster`` (create or
reuse, then smoke-check), ``cluster-down``, ``up`` (cluster, Traefik, the app;
prints its URL), ``run-local`` (the app as local processes).
"""

from __future__ import annotations

import argparse
import os
import sys

from bootstrap.__main__ import add_setup_command, cmd_setup as bootstrap_setup, run_cli
from chartest.progress import say

DEFAULT_CLUSTER = os.environ.get("CHARTEST_CLUSTER", "webhooks")
DEFAULT_PORT = int(os.environ.get("CHARTEST_HTTP_PORT", "18080"))
DEFAULT_NODES = int(os.environ.get("CHARTEST_NODES", "1"))


def cmd_setup(args) -> None:
    bootstrap_setup(args)
    if not args.tools_only:
        cmd_images(args)


def cmd_images(args) -> None:
    from bootstrap import engine, images

    from .image_specs import SPECS

    engine.ensure_engine()
    for tag in images.ensure_all(SPECS.values()).values():
        print(tag)


def cmd_cluster(args) -> None:
    from bootstrap import engine

    from . import deploy, smoke

    engine.ensure_engine()
    cluster = deploy.ensure_cluster(args.name, args.http_port, args.nodes)
    if not args.no_smoke:
        result = smoke.check(cluster)
        say(f"smoke: {result.client_log.strip()} " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    say(f"cluster {cluster.name} ready; export KUBECONFIG={cluster.kubeconfig}")


def cmd_cluster_down(args) -> None:
    from chartest.cluster import kind, registry

    kind.delete(args.name)
    port = int(os.environ.get("CHARTEST_REGISTRY_PORT", "5001"))  # a registry kept by --keep-cluster
    registry.delete(registry.Registry(f"localhost:{port}", registry.container_name(port)))


def cmd_up(args) -> None:
    from bootstrap import engine

    from . import deploy

    engine.ensure_engine()
    deploy.up(args.name, args.http_port)


def cmd_run_local(args) -> None:
    from .local_stack import main

    main()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webhooks_testing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_setup_command(sub, "Docker engine, tools, node image, Chromium, and the app's images", cmd_setup)
    sub.add_parser("images", help="build the app and infrastructure images").set_defaults(func=cmd_images)
    for name, func, text in (("cluster", cmd_cluster, "create or reuse the kind cluster, then smoke-check it"),
                             ("cluster-down", cmd_cluster_down, "delete the kind cluster (and a kept local registry)"),
                             ("up", cmd_up, "cluster + Traefik + the app; prints the URL")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--name", default=DEFAULT_CLUSTER, help="cluster name ($CHARTEST_CLUSTER, default webhooks)")
        p.add_argument("--http-port", type=int, default=DEFAULT_PORT, help="ingress port on 127.0.0.1 "
                       "($CHARTEST_HTTP_PORT, default 18080)")
        if name == "cluster":
            p.add_argument("--no-smoke", action="store_true")
            p.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="1 control plane + NODES-1 workers "
                           "($CHARTEST_NODES, default 1)")
        p.set_defaults(func=func)
    sub.add_parser("run-local", help="nats, FerretDB, api, ws, www as local processes").set_defaults(
        func=cmd_run_local)
    return run_cli(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
