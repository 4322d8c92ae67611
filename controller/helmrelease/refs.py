"""References to secret stores in a release's values, resolved after the values are composed.

Opt-in, so a Flux user's values never change meaning: per release with the annotation
`helmward.io/values-refs: enabled`, or for all with `--values-refs`. The stores are reached
with the credentials of a Secret in the release's own namespace, named by
`helmward.io/values-credentials`; the controller's own credentials only with
`--values-ambient-credentials`. A Kubernetes Secret reference is read as the release's identity.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.helmrelease import HelmRelease
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.values.backends import open_backend
from internal.values.backends.base import Backend, BackendError, Credentials
from internal.values.redact import REDACTOR
from internal.values.refs import Ref, RefError, collect
from internal.values.resolve import RefCache, Resolver, credentials_digest

OPT_IN = "helmward.io/values-refs"
CREDENTIALS = "helmward.io/values-credentials"
ENABLED = "enabled"


MAX_OPEN = 256
"""Backends kept open (an SDK client each), least recently used closed first."""


class _Kept:
    """A backend the resolver may close after each use; it stays open for the next."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        return await self.inner.get(refs)

    async def set(self, ref: Ref, value: str) -> None:
        await self.inner.set(ref, value)

    async def close(self) -> None:
        return None


class RefsError(Exception):
    """Values whose references cannot be resolved; the message names the reference, where it
    is and the store's answer, never a value."""


@dataclass(frozen=True)
class RefSettings:
    all_releases: bool = False
    """--values-refs"""
    ambient: bool = False
    """--values-ambient-credentials"""
    ttl: float = 60.0
    """--values-refs-ttl"""
    azure_any_resource: bool = False
    """--values-azure-any-resource"""


def wanted(hr: HelmRelease, settings: RefSettings) -> bool:
    annotations = hr.metadata.annotations or {}
    return settings.all_releases or annotations.get(OPT_IN, "").strip().lower() == ENABLED


class References:
    def __init__(self, api: ApiClient, settings: RefSettings) -> None:
        self.api = api
        self.settings = settings
        self.resolver = Resolver(RefCache(settings.ttl))
        self._open: dict[tuple[str, str, int, str], _Kept] = {}

    async def resolve(self, hr: HelmRelease, values: Any, release_api: ApiClient) -> Any:
        """`values` with its references resolved, or as they are when the release has not
        opted in or has none. Raises RefsError."""
        if not wanted(hr, self.settings):
            return values
        try:
            if not collect(values):
                return values
            credentials = await self._credentials(hr)
            namespace = hr.metadata.namespace or "default"

            async def opener(name: str) -> Backend:
                return await self._backend(name, credentials, release_api, namespace)

            resolved = await self.resolver.resolve(values, credentials, opener)
            REDACTOR.remember(f"{namespace}/{hr.metadata.name}", resolved.secrets)
            return resolved.values
        except RefError as exc:
            raise RefsError(str(exc)) from None
        except BackendError as exc:
            raise RefsError(f"{exc.code}: {exc}") from None

    async def _backend(
        self, name: str, credentials: Credentials, api: ApiClient, namespace: str
    ) -> Backend:
        """A backend kept open across reconciles for the same credentials and identity: making
        an SDK client costs more than the call it makes."""
        key = (name, credentials_digest(credentials), id(api), namespace)
        kept = self._open.pop(key, None)
        if kept is None:
            kept = _Kept(
                await open_backend(
                    name,
                    credentials,
                    api=api,
                    namespace=namespace,
                    azure_any_resource=self.settings.azure_any_resource,
                )
            )
        self._open[key] = kept  # the most recently used last
        while len(self._open) > MAX_OPEN:
            oldest = self._open.pop(next(iter(self._open)))
            await oldest.inner.close()
        return kept

    async def close(self) -> None:
        for kept in self._open.values():
            await kept.inner.close()
        self._open.clear()

    async def _credentials(self, hr: HelmRelease) -> Credentials:
        namespace = hr.metadata.namespace or "default"
        name = (hr.metadata.annotations or {}).get(CREDENTIALS)
        if not name:
            source = "the controller's" if self.settings.ambient else "none"
            return Credentials(ambient=self.settings.ambient, source=source)
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
        try:
            secret = await rest.get_optional(self.api, path)
        except ApiException as exc:
            raise RefsError(f"credentials Secret '{namespace}/{name}': {exc.reason}") from None
        if secret is None:
            raise RefsError(f"credentials Secret '{namespace}/{name}' not found")
        data = {
            k: base64.b64decode(v).decode("utf-8", "replace")
            for k, v in (secret.get("data") or {}).items()
        }
        return Credentials(values=data, ambient=False, source=f"Secret {namespace}/{name}")
