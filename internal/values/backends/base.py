"""What every secret-store backend is: a name, a batched `get` and a `set`.

A backend gets all the references of one reconcile at once, so a release with twenty
references costs one or two calls, not twenty. Errors name the reference (never a value) and
carry the store's own code (`AccessDenied`, `NotFound`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from internal.values.refs import Ref


class BackendError(Exception):
    """The store refused or failed. `code` is the store's own (e.g. AccessDenied,
    ResourceNotFound); the message names the reference, never a value."""

    def __init__(self, ref: Ref | None, code: str, message: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.code = code


@dataclass(frozen=True)
class Credentials:
    """Where a backend's client gets its identity: the keys of a Secret of the release's
    namespace under the SDKs' standard names (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL; AZURE_TENANT_ID, AZURE_CLIENT_ID,
    AZURE_CLIENT_SECRET, AZURE_KEYVAULT_URL, AZURE_AUTHORITY_HOST), or, with `ambient`, the
    controller's own environment and instance identity."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    ambient: bool = False
    source: str = ""
    """Where they came from, for messages: `Secret apps/aws`, or `the controller's`."""


class Backend(Protocol):
    name: str

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        """The raw value of each reference's secret (before any JSON pointer), in as few calls
        as the store allows. Raises BackendError for the first reference that cannot be read."""
        ...

    async def set(self, ref: Ref, value: str) -> None:
        """Write a value (the operator's `helmward values set`)."""
        ...

    async def close(self) -> None: ...
