"""The `helmward` console script."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helmward",
        allow_abbrev=False,
        description="A GitOps controller for Helm releases, compatible with Flux's HelmRelease.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the Helmward version")
    from controller import flags

    flags.add_flags(
        sub.add_parser(
            "run",
            help="run the HelmRelease and source controllers",
            usage="%(prog)s [flags] (helmward run --help lists them)",
            # Flux's flags are whole words: `--concurrent`, never `--conc`.
            allow_abbrev=False,
        )
    )
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a flag that is neither Flux's nor Helmward's is a usage error
    (exit code 2) that names it, as Flux's `unknown flag: --x`."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command == "run":
            parser = next(
                a.choices["run"]
                for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)
            )
        flags = [u for u in unknown if u.startswith("-")]
        if flags:
            parser.error(f"unknown flag: {flags[0].partition('=')[0]}")
        parser.error(f"unexpected argument: {unknown[0]}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "version":
        print(version("helmward"))
        return 0
    if args.command == "run":
        from controller import app

        return app.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
