"""``python -m bootstrap``: make a bare machine able to run kind clusters offline.

Every command is idempotent and cached; each slow step prints its name and time.
"""

from __future__ import annotations

import argparse
import sys
import time

from chartest.progress import StepFailed, paint, say


def cmd_setup(args) -> None:
    from . import chromium, engine, nodeimage, toolchain

    if args.tools_only:  # what the render tier needs: helm and the render engine
        toolchain.ensure_tool("helm")
        toolchain.ensure_render_engine()
        toolchain.ensure_routing_echo()
        return
    engine.ensure_engine()
    toolchain.ensure_tool("kind")
    toolchain.ensure_tool("helm")
    toolchain.ensure_render_engine()
    toolchain.ensure_routing_echo()
    nodeimage.ensure()
    toolchain.ensure_tool("kubectl")
    if not args.no_browser:
        chromium.ensure()


def cmd_node_image(args) -> None:
    from . import engine, nodeimage

    engine.ensure_engine()
    print(nodeimage.ensure(prefer_pull=not args.local))


def add_setup_command(sub, text: str, func) -> None:
    """The ``setup`` subcommand and its flags (the app support's ``setup`` extends this one)."""
    p = sub.add_parser("setup", help=text)
    p.add_argument("--tools-only", action="store_true", help="only helm and the render engine (all the render tier needs)")
    p.add_argument("--no-browser", action="store_true", help="skip Chromium")
    p.set_defaults(func=func)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_setup_command(sub, "Docker engine, kind, helm, kubectl, node image, Chromium", cmd_setup)
    p = sub.add_parser("node-image", help="pull or build the kind node image")
    p.add_argument("--local", action="store_true", help="build locally even where kindest/node is pullable")
    p.set_defaults(func=cmd_node_image)
    return run_cli(parser, argv)


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse, run, time; a failed step prints what failed and what to do, and exits 1."""
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        args.func(args)
    except StepFailed as exc:
        say(f"{paint('error:', 'bold', 'red')} {exc}")
        return 1
    except KeyboardInterrupt:
        say(paint("interrupted", "yellow"))
        return 130
    say(paint(f"{args.command} done in {time.monotonic() - started:.1f}s", "dim"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
