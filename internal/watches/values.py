"""A release's values in watches mode: the object's spec under the watch's overrideValues."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from internal.values import strvals


class OverrideError(ValueError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"override {key}: {reason}")
        self.key = key
        self.reason = reason


def parse_overrides(overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each `key: value` read as `helm --set-string key=value` would read it, in order, into
    one tree. The pair is joined before parsing, as operator-sdk does, so a comma in a value
    starts another assignment and `{a,b}` is a list."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        try:
            strvals.parse_into(f"{key}={value}", out, as_strings=True)
        except strvals.StrvalsError as exc:
            raise OverrideError(key, str(exc)) from None
    return out


def merge(spec: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`spec` with `overrides` on top: where both hold a mapping the two merge, anything else
    in `overrides` replaces what `spec` has. Neither input is changed or shared."""
    out = copy.deepcopy(dict(spec))
    for key, value in overrides.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge(current, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def release_values(spec: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """The values to install the chart with."""
    return merge(spec, parse_overrides(overrides))
