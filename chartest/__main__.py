"""Command line of the tooling: ``python -m chartest <command>`` (the Makefile calls it)."""

from __future__ import annotations

import argparse
import sys
import time

from .progress import StepFailed, console


def cmd_setup(args) -> None:
    from . import docker_engine, nodeimage, toolchain

    if args.tools_only:  # what the unit tier needs: helm (and kind), no engine
        toolchain.ensure_tool("helm")
        return
    docker_engine.ensure_engine()
    toolchain.ensure_tool("kind")
    toolchain.ensure_tool("helm")
    nodeimage.ensure()
    toolchain.ensure_tool("kubectl")
    if not args.no_images:
        from . import browser, images

        images.ensure_all()
        browser.ensure()


def cmd_node_image(args) -> None:
    from . import docker_engine, nodeimage

    docker_engine.ensure_engine()
    print(nodeimage.ensure(prefer_pull=not args.local))


def cmd_images(args) -> None:
    from . import docker_engine, images

    docker_engine.ensure_engine()
    for tag in images.ensure_all().values():
        print(tag)


def cmd_cluster(args) -> None:
    from . import cluster, docker_engine, smoke

    docker_engine.ensure_engine()
    c = cluster.ensure(args.name)
    if not args.no_smoke:
        result = smoke.check(c)
        console.print(f"smoke: {result.client_log.strip()} " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    console.print(f"cluster [bold]{c.name}[/] ready; export KUBECONFIG={c.kubeconfig}")


def cmd_cluster_down(args) -> None:
    from . import cluster

    cluster.delete(args.name)


def cmd_up(args) -> None:
    from . import deploy

    deploy.up(args.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chartest", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="Docker engine, kind, helm, kubectl, node image, images (idempotent)")
    p.add_argument("--no-images", action="store_true", help="skip the application and infrastructure images")
    p.add_argument("--tools-only", action="store_true", help="only the tools the unit tier needs (helm)")
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("node-image", help="pull or build the kind node image")
    p.add_argument("--local", action="store_true", help="build locally even where kindest/node is pullable")
    p.set_defaults(func=cmd_node_image)
    sub.add_parser("images", help="build the app and infrastructure images").set_defaults(func=cmd_images)
    for name, func, text in (("cluster", cmd_cluster, "create or reuse the kind cluster, then smoke-check it"),
                             ("cluster-down", cmd_cluster_down, "delete the kind cluster"),
                             ("up", cmd_up, "cluster + Traefik + the app; prints the URL")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--name", default=None, help="cluster name (default: $CHARTEST_CLUSTER or 'webhooks')")
        if name == "cluster":
            p.add_argument("--no-smoke", action="store_true")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    if getattr(args, "name", "x") is None:
        from .cluster import DEFAULT_NAME

        args.name = DEFAULT_NAME
    started = time.monotonic()
    try:
        args.func(args)
    except StepFailed as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    console.print(f"[dim]{args.command} done in {time.monotonic() - started:.1f}s[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
