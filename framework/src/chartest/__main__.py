"""``python -m chartest``: the framework's commands for a person at a terminal."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chartest", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("version", help="print chartest's version and the versions it is pinned to")
    p.set_defaults(func=_version)
    from .routing.cli import add_parser as add_route_parser

    add_route_parser(sub)
    from .gate.cli import add_parser as add_gate_parser

    add_gate_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args) or 0


def _version(args) -> int:
    from . import __version__, pins

    print(f"chartest {__version__}: helm {pins.get('tools.helm')}, Kubernetes {pins.get('kubernetes.version')}, "
          f"Traefik {pins.get('traefik.version')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
