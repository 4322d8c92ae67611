"""Go durations (`5m`, `1h30m0s`, `1.5s`) as Flux writes them, parsed and printed as Go does."""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator

from api.schema import OpenAPI

NANOSECOND = 1
MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_MAX = (1 << 63) - 1

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,
    "\u03bcs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_TERM = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")

# What the API server accepts for Flux's interval and timeout fields. Narrower than Go: no sign,
# no sub-millisecond units, at least one digit before any decimal point.
INTERVAL_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# Source timeouts leave out hours.
TIMEOUT_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"


class DurationError(ValueError):
    pass


def parse_duration_ns(text: str) -> int:
    """Nanoseconds in `text`, by the rules of Go's `time.ParseDuration`."""
    rest = text
    sign = 1
    if rest[:1] in ("-", "+"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise DurationError(f"invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(rest):
        match = _TERM.match(rest, pos)
        if match is None:
            raise DurationError(f"invalid duration {text!r}")
        whole, frac, unit = match.groups()
        if not whole and not frac:
            raise DurationError(f"invalid duration {text!r}")
        number = Fraction(int(whole or "0"))
        if frac:
            number += Fraction(int(frac), 10 ** len(frac))
        total += number * _UNITS[unit]
        pos = match.end()
    ns = int(total)
    if ns > _MAX:
        raise DurationError(f"invalid duration {text!r}: out of range")
    return sign * ns


def parse_duration(text: str) -> timedelta:
    """`text` as a timedelta (microsecond precision, like all timedeltas)."""
    return timedelta(microseconds=parse_duration_ns(text) // MICROSECOND)


def format_duration(value: int | timedelta) -> str:
    """A duration in nanoseconds (or a timedelta) printed as Go's `Duration.String()` does."""
    ns = value if isinstance(value, int) else _timedelta_ns(value)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    magnitude = abs(ns)
    if magnitude < SECOND:
        if magnitude < MICROSECOND:
            return f"{sign}{magnitude}ns"
        if magnitude < MILLISECOND:
            return f"{sign}{_decimal(magnitude, MICROSECOND)}\u00b5s"
        return f"{sign}{_decimal(magnitude, MILLISECOND)}ms"
    hours, rest = divmod(magnitude, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = f"{_decimal(rest, SECOND)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _timedelta_ns(value: timedelta) -> int:
    return value.days * 86_400 * SECOND + value.seconds * SECOND + value.microseconds * MICROSECOND


def _decimal(amount: int, unit: int) -> str:
    whole, frac = divmod(amount, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _checker(pattern: str, example: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.match(text):
            raise ValueError(f"invalid duration {text!r}: expected a Go duration such as {example}")
        parse_duration_ns(text)
        return text

    return AfterValidator(check)


Duration = Annotated[
    str, _checker(INTERVAL_PATTERN, "'30s', '5m' or '1h30m'"), OpenAPI(pattern=INTERVAL_PATTERN)
]
"""An interval or timeout, kept as written. Read it with `parse_duration`."""

Timeout = Annotated[
    str, _checker(TIMEOUT_PATTERN, "'30s' or '1m30s' (no hours)"), OpenAPI(pattern=TIMEOUT_PATTERN)
]
"""A source-controller timeout: like `Duration`, without hours."""
