"""The `helmward` console script: `run` starts the controllers; the other commands are for the
people who operate them (`get`, `tree`, `why`, `diff`, `approve`, `reconcile`, `suspend`,
`resume`, `events`, `history`), each in a module of this package with its `COMMANDS`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from controller.cli.command import Command, Exit, cluster_flags
from internal.kube.lazyclient import defer_generated_client

# The modules whose COMMANDS `helmward` offers, in the order `--help` lists them.
COMMAND_MODULES = (
    "get",
    "tree",
    "why",
    "diff",
    "approve",
    "control",
    "events",
    "history",
    "values",
)


def commands() -> list[Command]:
    found: list[Command] = []
    for name in COMMAND_MODULES:
        found.extend(importlib.import_module(f"{__name__}.{name}").COMMANDS)
    return found


def build_parser(*, people: bool = True) -> argparse.ArgumentParser:
    """Every command's parser; with `people` False, only `version` and `run`'s (enough for a
    command line that starts with `run`, whose flags and errors are `run`'s own), so that
    `helmward run` does not import the other commands' modules (rich, the explain engine)."""
    parser = argparse.ArgumentParser(
        prog="helmward",
        allow_abbrev=False,
        description="A GitOps controller for Helm releases, compatible with Flux's HelmRelease.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the Helmward version")
    for cmd in commands() if people else []:
        p = sub.add_parser(cmd.name, help=cmd.help, allow_abbrev=False)
        if cmd.cluster:
            cluster_flags(p)
        cmd.configure(p)
        p.set_defaults(handler=cmd.run)
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


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[name]
    return sub


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a flag that is neither Flux's nor Helmward's is a usage error
    (exit code 2) that names it, as Flux's `unknown flag: --x`. The commands for people take
    flags among their arguments, as kubectl does (`get hr -n demo web`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(people=argv[:1] != ["run"])
    args, unknown = parser.parse_known_args(argv)
    if args.command not in ("run", "version"):
        sub = _subparser(parser, args.command)
        rest = argv[argv.index(args.command) + 1 :]
        intermixed = sub.parse_intermixed_args(rest)
        intermixed.command = args.command
        return intermixed
    if unknown:
        if args.command == "run":
            parser = _subparser(parser, "run")
        flags = [u for u in unknown if u.startswith("-")]
        if flags:
            parser.error(f"unknown flag: {flags[0].partition('=')[0]}")
        parser.error(f"unexpected argument: {unknown[0]}")
    return args


def main(argv: list[str] | None = None) -> int:
    # Before any command imports kubernetes-asyncio (the commands' modules do, in parse).
    defer_generated_client()
    args = parse(argv)
    if args.command == "version":
        from importlib.metadata import version

        print(version("helmward"))
        return 0
    if args.command == "run":
        from controller import app

        return app.main(args)
    handler = getattr(args, "handler", None)
    if handler is None:
        return Exit.USAGE
    return int(asyncio.run(handler(args)))


if __name__ == "__main__":
    sys.exit(main())
