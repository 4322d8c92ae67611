"""Helm's `--set` language, for valuesFrom targetPath: `a.b[0].c=v`, lists `{x,y}`, `\\` escapes.

Written from the grammar Helm documents and checked against the helm CLI itself in the tests,
so a targetPath means here exactly what it means to Helm. Typed parsing turns `true`, `false`,
`null` and decimal integers into their types; string parsing keeps everything a string.
"""

from __future__ import annotations

import re
from typing import Any

MAX_INDEX = 65536
MAX_NESTING = 30
MAX_LEVELS = 200
"""Keys and list indexes nested in one expression (`a[0][0]…`, `a[0].b[0].…`): Go's stacks
grow, Python's recursion does not, so past this the expression is refused."""
_INDEX = re.compile(r"[+-]?[0-9]+")

Values = dict[str, Any]


class StrvalsError(ValueError):
    pass


class _End(Exception):
    """The input ran out."""


class _NotList(Exception):
    pass


def typed(text: str) -> Any:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        sign = text[1:] if text[0] in "+-" else text
        # Past 19 digits it is no int64 (and int() refuses thousands of digits).
        if sign.isascii() and sign.isdigit() and len(sign) <= 19 and -(2**63) <= int(text) < 2**63:
            return int(text)
    return text


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str:
        if self.pos >= len(self.text):
            raise _End
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def unread(self) -> None:
        self.pos -= 1

    def until(self, stops: str) -> tuple[str, str | None]:
        """Characters up to one of `stops` (consumed, returned), honouring backslash escapes.
        The stop is None when the input ended first."""
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch in stops:
                return "".join(out), ch
            if ch == "\\":
                if self.pos >= len(self.text):
                    return "".join(out), None
                ch = self.text[self.pos]
                self.pos += 1
            out.append(ch)
        return "".join(out), None


class _Parser:
    def __init__(self, text: str, as_strings: bool) -> None:
        self.r = _Reader(text)
        self.convert = str if as_strings else typed
        self.levels = 0

    def parse_into(self, data: Values) -> None:
        while self.r.pos < len(self.r.text):
            self.key(data, 0)

    def nest(self) -> None:
        self.levels += 1
        if self.levels > MAX_LEVELS:
            raise StrvalsError(f"keys and indexes are nested deeper than {MAX_LEVELS} levels")

    def key(self, data: Values, depth: int) -> None:
        self.nest()
        try:
            self.key_at(data, depth)
        finally:
            self.levels -= 1

    def key_at(self, data: Values, depth: int) -> None:
        name, stop = self.r.until("=[,.")
        if stop is None:
            if name:
                raise StrvalsError(f'key "{name}" has no value')
            return
        if stop == "[":
            index = self.index()
            existing = data.get(name, [])
            if not isinstance(existing, list):
                raise StrvalsError(f'key "{name}" is not a list')
            _put(data, name, self.list_item(list(existing), index, depth))
        elif stop == "=":
            _put(data, name, self.value())
        elif stop == ",":
            _put(data, name, "")
            raise StrvalsError(f'key "{name}" has no value (cannot end with ,)')
        else:  # "."
            depth += 1
            if depth > MAX_NESTING:
                raise StrvalsError(
                    f"value name nested level is greater than maximum supported nested level "
                    f"of {MAX_NESTING}"
                )
            inner = data.get(name)
            if not isinstance(inner, dict):
                if name in data and inner is not None:
                    raise StrvalsError(f'key "{name}" is not a map')
                inner = {}
            self.key(inner, depth)
            if not inner:
                raise StrvalsError(f'key map "{name}" has no value')
            _put(data, name, inner)

    def value(self) -> Any:
        try:
            return self.value_list()
        except _End:
            return ""
        except _NotList:
            text, _ = self.r.until(",")
            return self.convert(text)

    def value_list(self) -> list[Any]:
        if self.r.read() != "{":
            self.r.unread()
            raise _NotList
        items: list[Any] = []
        while True:
            text, stop = self.r.until(",}")
            if stop is None:
                raise StrvalsError("list must terminate with '}'")
            items.append(self.convert(text))
            if stop == "}":
                try:
                    if self.r.read() != ",":
                        self.r.unread()
                except _End:
                    pass
                return items

    def index(self) -> int:
        text, stop = self.r.until("]")
        if stop is None:
            raise StrvalsError("error parsing index: unterminated '['")
        try:
            if not _INDEX.fullmatch(text):  # as Go's Atoi: no spaces, underscores, other digits
                raise ValueError(text)
            return int(text)
        except ValueError:
            raise StrvalsError(f"error parsing index: {text!r} is not a number") from None

    def list_item(self, items: list[Any], index: int, depth: int) -> list[Any]:
        self.nest()
        try:
            return self.list_item_at(items, index, depth)
        finally:
            self.levels -= 1

    def list_item_at(self, items: list[Any], index: int, depth: int) -> list[Any]:
        if index < 0:
            raise StrvalsError(f"negative {index} index not allowed")
        rest, stop = self.r.until("[.=")
        if rest:
            raise StrvalsError(f"unexpected data at end of array index: {rest!r}")
        if stop is None:
            raise StrvalsError("unexpected end after array index")
        if stop == "=":
            return _set_index(items, index, self.value())
        if stop == "[":
            inner_index = self.index()
            current = items[index] if index < len(items) else None
            if current is not None and not isinstance(current, list):
                raise StrvalsError(f"error processing index {index}: not a list")
            return _set_index(items, index, self.list_item(list(current or []), inner_index, depth))
        inner = items[index] if index < len(items) and isinstance(items[index], dict) else {}
        self.key(inner, depth)
        return _set_index(items, index, inner)


def _put(data: Values, key: str, value: Any) -> None:
    if key:
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index > MAX_INDEX:
        raise StrvalsError(
            f"index of {index} is greater than maximum supported index of {MAX_INDEX}"
        )
    if index >= len(items):
        items.extend([None] * (index + 1 - len(items)))
    items[index] = value
    return items


def parse_into(expression: str, data: Values, *, as_strings: bool = False) -> None:
    """Apply `expression` (`path=value[,path=value...]`) to `data` in place."""
    _Parser(expression, as_strings).parse_into(data)


def escape_literal(value: str) -> str:
    """Escape a value so the parser keeps it verbatim (valuesFrom `literal: true`)."""
    return "".join("\\" + ch if ch in "\\,{}[]=." else ch for ch in value)
