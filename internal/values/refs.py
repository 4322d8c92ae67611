"""References to secret stores in values: `ref+<backend>://<path>[?<query>][#/<json-pointer>]`,
as helmfile's vals writes them. Pure: finding, parsing and substituting; the backends fetch.

A reference is only ever named by its text (which holds no secret) and its position in the
values tree; what it resolves to appears nowhere but in the values handed to Helm.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

PREFIX = "ref+"
BACKENDS = frozenset({"awssecrets", "awsssm", "k8s", "azurekv"})


class RefError(ValueError):
    """A malformed reference, or one whose value cannot be used; the message names the
    reference and its position, never a value."""


@dataclass(frozen=True)
class Ref:
    backend: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    pointer: str = ""
    """An RFC 6901 JSON pointer into the secret (a JSON document); empty for the whole value."""
    text: str = field(default="", compare=False)

    @property
    def secret(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What the backend fetches: refs that differ only by pointer share one fetch."""
        return (self.backend, self.path, self.query)

    def option(self, name: str) -> str | None:
        return dict(self.query).get(name)


def is_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def parse(text: str) -> Ref:
    """The reference `text` writes; RefError when it is malformed."""
    rest = text[len(PREFIX) :]
    backend, sep, after = rest.partition("://")
    if not sep or not backend:
        raise RefError(f"malformed reference {text!r}: expected ref+<backend>://<path>")
    if backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise RefError(f"unknown backend {backend!r} in {text!r}: one of {known}")
    location, _, pointer = after.partition("#")
    path, _, query = location.partition("?")
    if not path.strip("/"):
        raise RefError(f"malformed reference {text!r}: no path")
    if pointer and not pointer.startswith("/"):
        raise RefError(f"malformed reference {text!r}: the fragment must be a JSON pointer (#/key)")
    try:
        pairs = tuple(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise RefError(f"malformed reference {text!r}: bad query") from None
    return Ref(backend, path, pairs, pointer, text)


Position = tuple[str | int, ...]


def position_text(where: Position) -> str:
    """`db.password`, `hosts[0].key`: where a value sits in the values tree."""
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(root)"


def find(values: Any, where: Position = ()) -> Iterator[tuple[Position, str]]:
    """Every string of the form ref+… and where it is."""
    if isinstance(values, Mapping):
        for key, value in values.items():
            yield from find(value, (*where, str(key)))
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from find(value, (*where, i))
    elif is_ref(values):
        yield where, values


def collect(values: Any) -> dict[Position, Ref]:
    """Every reference in `values`, parsed; RefError names the first malformed one and where."""
    out = {}
    for where, text in find(values):
        try:
            out[where] = parse(text)
        except RefError as exc:
            raise RefError(f"values.{position_text(where)}: {exc}") from None
    return out


def pointed(ref: Ref, raw: str, where: Position) -> Any:
    """The value `ref` names in `raw`, the secret as fetched: all of it, or one field of a JSON
    secret by the pointer."""
    if not ref.pointer:
        return raw
    try:
        doc: Any = json.loads(raw)
    except ValueError:
        raise RefError(
            f"values.{position_text(where)}: {ref.text!r} points into a secret that is not JSON"
        ) from None
    for token in ref.pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, Mapping) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            raise RefError(
                f"values.{position_text(where)}: {ref.text!r}: the secret has no {ref.pointer}"
            )
    return doc


def substitute(values: Any, resolved: Mapping[Position, Any]) -> Any:
    """A copy of `values` with each position replaced by its resolved value."""
    out = copy.deepcopy(values)
    for where, value in resolved.items():
        node = out
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = value
    return out


def masked(values: Any) -> Any:
    """A copy of `values` with each reference shown as `<ref+backend://…>`, for people."""
    refs = {where: f"<{text}>" for where, text in find(values)}
    return substitute(values, refs)
