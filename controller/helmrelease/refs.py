"""References to secret stores in a release's values, resolved after the values are composed.

Opt-in, so a Flux user's values never change meaning: per release with the annotation
`helmward.io/values-refs: enabled`, or for all with `--values-refs`. The stores are reached
with the credentials of a Secret in the release's own namespace, named by
`helmward.io/values-credentials`; the controller's own credentials only with
`--values-ambient-credentials`. A Kubernetes Secret reference is read as the release's identity.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from api.helmrelease import HelmRelease
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.values.backends import open_backend
from internal.values.backends.base import Backend, BackendError, Credentials
from internal.values.redact import REDACTOR
from internal.values.refs import RefError, collect
from internal.values.resolve import RefCache, Resolver

OPT_IN = "helmward.io/values-refs"
CREDENTIALS = "helmward.io/values-credentials"
ENABLED = "enabled"


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
                return await open_backend(
                    name,
                    credentials,
                    api=release_api,
                    namespace=namespace,
                    azure_any_resource=self.settings.azure_any_resource,
                )

            resolved = await self.resolver.resolve(values, credentials, opener)
            REDACTOR.remember(f"{namespace}/{hr.metadata.name}", resolved.secrets)
            return resolved.values
        except RefError as exc:
            raise RefsError(str(exc)) from None
        except BackendError as exc:
            raise RefsError(f"{exc.code}: {exc}") from None

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
