"""What a subcommand of `helmward` for people is: a name, its flags, and an async body that
returns the exit code. The cluster commands share `--kubeconfig`, `--context`, `-n`, `-A` and
`-o`, like kubectl's."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum


class Exit(IntEnum):
    """Exit codes that mean something: 0 all is well, 1 not ready or failed, 2 usage."""

    OK = 0
    NOT_READY = 1
    USAGE = 2


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    """Adds the command's own arguments."""
    run: Callable[[argparse.Namespace], Awaitable[int]]
    cluster: bool = True
    """Takes the shared cluster flags (`--kubeconfig`, `--context`, `-n`, `-A`, `-o`)."""


def cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file ($KUBECONFIG)")
    parser.add_argument("--context", default=None, help="kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=None, help="namespace (default: the context's)"
    )
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "yaml"),
        default="table",
        help="table for people, json or yaml for scripts",
    )
