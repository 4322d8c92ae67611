"""What a command prints: tables for people (rich, no colour when NO_COLOR is set or the output
is not a terminal, never wrapped), JSON or YAML for scripts. Rows are sorted by the caller, and
nothing printed carries a timestamp unless asked, so output can be compared.

Ages (`age`, kubectl's human durations) are measured from `now()`, which is the clock unless
HELMWARD_NOW holds an RFC 3339 time: the seam that makes an AGE column the same on every run."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
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
    out = file or sys.stdout
    if out.isatty():
        console(out).print(t)
        return
    # Off a terminal, as kubectl prints: no blanks after the last column.
    buf = io.StringIO()
    console(buf).print(t)
    out.write("".join(f"{text.rstrip()}\n" for text in buf.getvalue().splitlines()))


def structured(data: Any, fmt: str, file: TextIO | None = None) -> None:
    """`data` as JSON (indented, keys sorted) or YAML."""
    out = file or sys.stdout
    if fmt == "json":
        out.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    else:
        out.write(yaml.safe_dump(data, sort_keys=True, default_flow_style=False))


def line(text: str = "", file: TextIO | None = None, style: str | None = None) -> None:
    console(file).print(text, style=style, markup=False)


NOW_ENV = "HELMWARD_NOW"


def now() -> datetime:
    """The time ages are measured from: $HELMWARD_NOW (RFC 3339) when set, else the clock."""
    fixed = os.environ.get(NOW_ENV, "")
    if fixed:
        return datetime.fromisoformat(fixed.replace("Z", "+00:00"))
    return datetime.now(UTC)


def age(at: datetime | None) -> str:
    """How long ago `at` was, as kubectl's AGE column says it; `<unknown>` without a time."""
    if at is None:
        return "<unknown>"
    return human_duration((now() - at).total_seconds())


def human_duration(seconds: float) -> str:
    """A duration rounded as Kubernetes' `duration.HumanDuration` rounds it: exact seconds
    under two minutes, then ever coarser units (`5m10s`, `3h`, `2d4h`, `400d`, `3y20d`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years, rest = divmod(days, 365)
    if hours < 24 * 365 * 8:
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"
