"""Compose a release's values as Flux does: each valuesFrom in order, then the inline values.

A reference with a targetPath sets one value through Helm's --set parser (quoted data or
`literal` keeps it a string); one without is a YAML document merged in. Errors name the
reference and the key, never the data: values may come from Secrets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from internal.values import strvals, yamldoc

Values = dict[str, Any]


class Reason(StrEnum):
    RESOURCE_NOT_FOUND = "resource not found"
    KEY_NOT_FOUND = "key not found"
    UNSUPPORTED_KIND = "unsupported kind"
    DATA_READ = "could not read values data"
    MERGE = "could not merge value at target path"


@dataclass(frozen=True)
class Reference:
    kind: str
    name: str
    values_key: str = "values.yaml"
    target_path: str = ""
    optional: bool = False
    literal: bool = False


class ValuesError(Exception):
    def __init__(self, ref: Reference, namespace: str, reason: Reason, detail: str = "") -> None:
        self.ref = ref
        self.reason = reason
        text = f"could not resolve {ref.kind} chart values reference '{namespace}/{ref.name}'"
        text += f" with key '{ref.values_key}': {reason}"
        super().__init__(text + (f": {detail}" if detail else ""))


Lookup = Callable[[str, str], Awaitable[Mapping[str, bytes] | None]]
"""(kind, name) -> the object's data with values decoded to bytes, or None when it is absent."""


def merge_maps(a: Mapping[str, Any], b: Mapping[str, Any]) -> Values:
    """b over a; nested maps merge, anything else in b replaces."""
    out = dict(a)
    for key, value in b.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge_maps(current, value)
        else:
            out[key] = value
    return out


def read_values(data: bytes) -> Values:
    doc = yamldoc.load(data) if data.strip() else {}
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError(f"values must be a YAML mapping, not {type(doc).__name__}")
    return doc


def set_path(values: Values, path: str, value: str, *, literal: bool = False) -> None:
    if literal:
        strvals.parse_into(f"{path}={strvals.escape_literal(value)}", values, as_strings=True)
        return
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    if quoted:
        strvals.parse_into(f"{path}={value.strip(chr(39) + chr(34))}", values, as_strings=True)
    else:
        strvals.parse_into(f"{path}={value}", values)


async def compose(
    refs: Sequence[Reference], inline: Mapping[str, Any] | None, namespace: str, lookup: Lookup
) -> Values:
    result: Values = {}
    inline = dict(inline or {})
    cache: dict[tuple[str, str], Mapping[str, bytes] | None] = {}
    for ref in refs:
        if ref.kind not in ("ConfigMap", "Secret"):
            raise ValuesError(ref, namespace, Reason.UNSUPPORTED_KIND)
        if (ref.kind, ref.name) not in cache:
            cache[(ref.kind, ref.name)] = await lookup(ref.kind, ref.name)
        data = cache[(ref.kind, ref.name)]
        if data is None:
            if ref.optional:
                continue
            raise ValuesError(ref, namespace, Reason.RESOURCE_NOT_FOUND)
        if ref.values_key not in data:
            if ref.optional:
                continue
            raise ValuesError(ref, namespace, Reason.KEY_NOT_FOUND)
        raw = data[ref.values_key]
        if ref.target_path:
            # As in Flux, the inline values are merged before a targetPath value is set.
            result = merge_maps(result, inline)
            try:
                set_path(result, ref.target_path, raw.decode(), literal=ref.literal)
            except (strvals.StrvalsError, UnicodeDecodeError):
                # The parser's message can quote the data itself, so it is not passed on.
                hint = f"target path '{ref.target_path}'; set literal: true for values holding"
                hint += " commas, braces or equals signs"
                raise ValuesError(ref, namespace, Reason.MERGE, hint) from None
            continue
        try:
            result = merge_maps(result, read_values(raw))
        except (yaml.YAMLError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if isinstance(exc, ValueError) else "invalid YAML"
            raise ValuesError(ref, namespace, Reason.DATA_READ, detail) from None
    return merge_maps(result, inline)
