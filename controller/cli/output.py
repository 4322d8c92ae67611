"""What a command prints: tables for people (rich, no colour when NO_COLOR is set or the output
is not a terminal, never wrapped), JSON or YAML for scripts. Rows are sorted by the caller, and
nothing printed carries a timestamp unless asked, so output can be compared."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.table import Table


def console(file: TextIO | None = None) -> Console:
    out = file or sys.stdout
    tty = out.isatty()
    return Console(
        file=out,
        no_color=bool(os.environ.get("NO_COLOR")) or not tty,
        highlight=False,
        soft_wrap=True,
        width=None if tty else 10_000,
        emoji=False,
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], file: TextIO | None = None
) -> None:
    """Columns as kubectl prints them: upper-case headers, no borders."""
    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for h in headers:
        t.add_column(h.upper(), overflow="fold", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    console(file).print(t)


def structured(data: Any, fmt: str, file: TextIO | None = None) -> None:
    """`data` as JSON (indented, keys sorted) or YAML."""
    out = file or sys.stdout
    if fmt == "json":
        out.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    else:
        out.write(yaml.safe_dump(data, sort_keys=True, default_flow_style=False))


def line(text: str = "", file: TextIO | None = None, style: str | None = None) -> None:
    console(file).print(text, style=style, markup=False)
