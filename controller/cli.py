"""The `helmward` console script."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helmward",
        description="A GitOps controller for Helm releases, compatible with Flux's HelmRelease.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the Helmward version")
    from controller import app

    app.add_flags(sub.add_parser("run", help="run the HelmRelease and source controllers"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(version("helmward"))
        return 0
    if args.command == "run":
        from controller import app

        return app.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
