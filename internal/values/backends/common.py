"""What the backends share: grouping references by the secret they fetch, the store's codes
in our words, and messages that name a reference and never a value."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from internal.values.backends.base import BackendError
from internal.values.refs import Ref

T = TypeVar("T")
A = TypeVar("A")

NOT_FOUND = "NotFound"
ACCESS_DENIED = "AccessDenied"
NO_CREDENTIALS = "NoCredentials"
UNSUPPORTED = "Unsupported"
INVALID_VALUE = "InvalidValue"

CONCURRENCY_DEFAULT = 8
"""How many single reads a backend has in flight at once where the store has no batch read."""

_CODES = {
    "ResourceNotFoundException": NOT_FOUND,
    "ParameterNotFound": NOT_FOUND,
    "SecretNotFound": NOT_FOUND,
    "AccessDeniedException": ACCESS_DENIED,
    "Forbidden": ACCESS_DENIED,
}


def our_code(store_code: str) -> str:
    """The store's error code as the backends report it: not-found and access-denied under
    one name each across stores; any other code as the store gave it."""
    return _CODES.get(store_code, store_code)


def by_secret(refs: Iterable[Ref]) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], Ref]:
    """One reference per distinct secret (the first seen), in order: refs that differ only by
    pointer are one fetch."""
    out: dict[tuple[str, str, tuple[tuple[str, str], ...]], Ref] = {}
    for ref in refs:
        out.setdefault(ref.secret, ref)
    return out


def failure(ref: Ref, code: str, what: str, detail: str) -> BackendError:
    """`awssecrets: AccessDenied reading 'prod/db' (ref+awssecrets://prod/db#/password): ...`"""
    shown = f" ({ref.text})" if ref.text else ""
    tail = f": {detail}" if detail else ""
    return BackendError(ref, code, f"{ref.backend}: {code} reading {what!r}{shown}{tail}")


def write_failure(ref: Ref, code: str, what: str, detail: str) -> BackendError:
    shown = f" ({ref.text})" if ref.text else ""
    tail = f": {detail}" if detail else ""
    return BackendError(ref, code, f"{ref.backend}: {code} writing {what!r}{shown}{tail}")


def whole_secret(ref: Ref, what: str) -> None:
    """`set` writes a whole secret: a reference that points into one is refused rather than
    overwriting the document with one field."""
    if ref.pointer:
        raise write_failure(
            ref, UNSUPPORTED, what, "set writes the whole secret; drop the #/pointer"
        )


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def bounded(
    items: Iterable[A], call: Callable[[A], Awaitable[T]], limit: int = CONCURRENCY_DEFAULT
) -> list[T]:
    """`call` on each item concurrently, at most `limit` at once; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: A) -> T:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


def first_failure(
    refs: Sequence[Ref],
    values: Mapping[tuple[str, str, tuple[tuple[str, str], ...]], str],
    errors: Mapping[tuple[str, str, tuple[tuple[str, str], ...]], BackendError],
) -> dict[Ref, str]:
    """Each ref's value; BackendError for the first ref, in the caller's order, that has none."""
    out: dict[Ref, str] = {}
    for ref in refs:
        if ref.secret in values:
            out[ref] = values[ref.secret]
            continue
        error = errors.get(ref.secret)
        if error is None:
            error = failure(ref, NOT_FOUND, ref.path, "the store returned no value for it")
        raise error
    return out


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def plain_message(message: str) -> str:
    """The store's message on one line. Some stores (moto, for IAM denials of JSON APIs)
    answer with an XML error document; its Code and Message are what a person needs."""
    if message.lstrip().startswith("<"):
        fields = dict(_XML_FIELD.findall(message))
        if fields:
            return str(fields.get("Message", "") or fields.get("Code", ""))
    return " ".join(message.split())
