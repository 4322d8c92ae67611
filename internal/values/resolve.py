"""Resolving the references in composed values: each backend asked once per reconcile for all
the secrets not in the cache, then every reference replaced by its secret or one field of it.

The cache is keyed by the credentials that fetched a secret (a digest of them) and the secret,
so two tenants never share a fetched value, and holds each value for `ttl` seconds: at 1000
releases sharing their secrets, a store sees one call per secret per TTL, not one per reconcile.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from internal.values.backends.base import Backend, BackendError, Credentials
from internal.values.refs import Position, Ref, RefError, collect, pointed, substitute

Opener = Callable[[str], Awaitable[Backend]]
"""Opens the named backend with the release's credentials (and identity, for k8s)."""

SecretKey = tuple[str, tuple[str, str, tuple[tuple[str, str], ...]]]


def credentials_digest(credentials: Credentials) -> str:
    text = "\0".join(
        [credentials.source, str(credentials.ambient)]
        + [f"{k}={v}" for k, v in sorted(credentials.values.items())]
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RefCache:
    ttl: float
    clock: Callable[[], float] = time.monotonic
    _entries: dict[SecretKey, tuple[float, str]] = field(default_factory=dict, repr=False)

    def get(self, key: SecretKey) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: SecretKey, value: str) -> None:
        if self.ttl > 0:
            self._entries[key] = (self.clock() + self.ttl, value)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class Resolved:
    values: Any
    secrets: tuple[Any, ...] = field(repr=False)
    """What the references resolved to, for the redactor; never to be shown."""


@dataclass
class Resolver:
    cache: RefCache
    calls: Counter[str] = field(default_factory=Counter)
    """Backend `get` calls made, by backend: what the benchmark counts."""

    async def resolve(
        self, values: Any, credentials: Credentials, open_backend: Opener
    ) -> Resolved:
        """`values` with every reference resolved. RefError names a malformed reference and
        where it is; BackendError the store's refusal. Neither names a value."""
        refs = collect(values)
        if not refs:
            return Resolved(values, ())
        owner = credentials_digest(credentials)
        raw = await self._fetch(refs, owner, open_backend)
        resolved: dict[Position, Any] = {
            where: pointed(ref, raw[ref.secret], where) for where, ref in refs.items()
        }
        return Resolved(substitute(values, resolved), tuple(resolved.values()))

    async def _fetch(
        self, refs: dict[Position, Ref], owner: str, open_backend: Opener
    ) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], str]:
        raw: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        wanted: dict[str, dict[tuple[str, str, tuple[tuple[str, str], ...]], Ref]] = {}
        for ref in refs.values():
            cached = self.cache.get((owner, ref.secret))
            if cached is not None:
                raw[ref.secret] = cached
            else:
                wanted.setdefault(ref.backend, {})[ref.secret] = ref
        for name, secrets in wanted.items():
            backend = await open_backend(name)
            try:
                self.calls[name] += 1
                got = await backend.get(list(secrets.values()))
            finally:
                await backend.close()
            for secret, ref in secrets.items():
                if ref not in got:
                    raise BackendError(ref, "NotFound", f"{name}: no value for {ref.text!r}")
                raw[secret] = got[ref]
                self.cache.put((owner, secret), got[ref])
        return raw


__all__ = ["BackendError", "RefCache", "RefError", "Resolved", "Resolver", "credentials_digest"]
