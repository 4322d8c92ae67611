from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from api.duration import (
    HOUR,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    NANOSECOND,
    SECOND,
    Duration,
    DurationError,
    Timeout,
    format_duration,
    parse_duration,
    parse_duration_ns,
)

pytestmark = pytest.mark.api


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("5m", 5 * MINUTE),
        ("1h30m0s", HOUR + 30 * MINUTE),
        ("1.5h", HOUR + 30 * MINUTE),
        ("300ms", 300 * MILLISECOND),
        ("1h5ms", HOUR + 5 * MILLISECOND),
        ("2h45m", 2 * HOUR + 45 * MINUTE),
        ("-1.5h", -(HOUR + 30 * MINUTE)),
        ("+10s", 10 * SECOND),
        (".5s", 500 * MILLISECOND),
        ("1.s", SECOND),
        ("10ns", 10 * NANOSECOND),
        ("1us", MICROSECOND),
        ("1\u00b5s", MICROSECOND),
        ("1\u03bcs", MICROSECOND),
        ("1.000000001s", SECOND + 1),
        ("2562047h47m16.854775807s", (1 << 63) - 1),
    ],
)
def test_parses_like_go(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize(
    "text", ["", "5", "5d", "1h-5m", "abc", ".", "-", "1.5", "5 m", "2562047h47m16.854775808s"]
)
def test_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration_ns(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1100 * NANOSECOND, "1.1\u00b5s"),
        (2200 * MICROSECOND, "2.2ms"),
        (1500 * MILLISECOND, "1.5s"),
        (90 * SECOND, "1m30s"),
        (HOUR, "1h0m0s"),
        (HOUR + 30 * MINUTE, "1h30m0s"),
        (-90 * SECOND, "-1m30s"),
        (100 * HOUR + SECOND + 1, "100h0m1.000000001s"),
    ],
)
def test_formats_like_go(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_timedeltas_both_ways() -> None:
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert format_duration(timedelta(minutes=5)) == "5m0s"


class _Fields(BaseModel):
    interval: Duration | None = None
    timeout: Timeout | None = None


@pytest.mark.parametrize("text", ["5m", "1h30m0s", "1.5h", "10s", "250ms", "1h5m10s"])
def test_interval_fields_take_flux_durations(text: str) -> None:
    assert _Fields(interval=text).interval == text


@pytest.mark.parametrize("text", ["5 minutes", "1d", "0", "-5m", "5", "1us", ".5s"])
def test_interval_fields_refuse_what_the_api_server_refuses(text: str) -> None:
    with pytest.raises(ValidationError, match="invalid duration"):
        _Fields(interval=text)


def test_interval_fields_refuse_overflow() -> None:
    with pytest.raises(ValidationError, match="out of range"):
        _Fields(interval="9999999999h")


def test_source_timeouts_have_no_hours() -> None:
    assert _Fields(timeout="1m30s").timeout == "1m30s"
    with pytest.raises(ValidationError, match="no hours"):
        _Fields(timeout="1h")
