"""Prometheus' text exposition format (0.0.4), written directly for series that are rendered once
when they change rather than on every scrape."""

from __future__ import annotations

import math
from collections.abc import Iterable


def value(number: float) -> str:
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if math.isnan(number):
        return "NaN"
    return repr(float(number))


def _escape(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def labels(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{name}="{_escape(text)}"' for name, text in pairs)


def sample(name: str, label_text: str, number: float) -> str:
    return f"{name}{{{label_text}}} {value(number)}\n"


def header(name: str, kind: str, help_text: str) -> bytes:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n".encode()
