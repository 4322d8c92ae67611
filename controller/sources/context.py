"""What every source reconciler shares: the kube client, artifact storage, the parsed-index
cache, limits, and helpers to read Secrets and other sources."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import api
from controller.events import EventRecorder
from controller.metrics import Recorder
from internal.artifacts.storage import Storage
from internal.helm import Engine
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import (
    BUCKETS,
    GIT_REPOSITORIES,
    HELM_CHARTS,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
    SECRETS,
    Resource,
)
from internal.sources import credentials
from internal.sources.chart import Limits
from internal.sources.helmindex import DEFAULT_MAX_INDEX_SIZE, IndexCache

COMPONENT = "source-controller"
"""The reporting component of the sources' events, as Flux names it."""

RESOURCES: dict[str, Resource] = {
    "HelmRepository": HELM_REPOSITORIES,
    "GitRepository": GIT_REPOSITORIES,
    "Bucket": BUCKETS,
    "HelmChart": HELM_CHARTS,
    "OCIRepository": OCI_REPOSITORIES,
}


class Failure(Exception):
    """A reconcile step failed. `condition` is FetchFailed, BuildFailed or
    StorageOperationFailed; `stalled` means retrying cannot help until the spec changes;
    `withdraw` takes the current artifact out of status and storage, so that nothing builds on
    one that does not honour the spec. `event_type` is the type of the event it is recorded as:
    Normal for what source-controller only traces (waiting for a source's artifact)."""

    def __init__(
        self,
        condition: str,
        reason: str,
        message: str,
        *,
        stalled: bool = False,
        withdraw: bool = False,
        event_type: str = "Warning",
    ) -> None:
        super().__init__(message)
        self.condition = condition
        self.reason = reason
        self.message = message
        self.stalled = stalled
        self.withdraw = withdraw
        self.event_type = event_type


def invalid_secret(name: str, detail: str) -> Failure:
    """A Secret that lacks what the source needs: retrying cannot help until it changes."""
    return Failure(
        "FetchFailed",
        "AuthenticationFailed",
        f"invalid '{name}' secret data: {detail}",
        stalled=True,
    )


@dataclass(frozen=True)
class Notice:
    """What source-controller says about the artifact of a successful reconcile, as a Normal
    event: `reason` when the artifact is new (its digest is not the one the status had), or
    `recovery` when it is the same one but the object was failing before; never otherwise."""

    message: str
    reason: str = "NewArtifact"
    recovery: str = "Succeeded"


@dataclass
class Outcome:
    """What a reconcile produced, applied by the driver."""

    ready_reason: str = "Succeeded"
    ready_message: str = ""
    artifact: dict[str, Any] | None = None
    status: dict[str, Any] = field(default_factory=dict)
    notice: Notice | None = None
    artifact_in_storage: bool = True
    conditions: tuple[tuple[str, str, str, str], ...] = ()
    """Further conditions the success sets, as (type, status, reason, message): SourceVerified."""


@dataclass
class Context:
    kube: ApiClient
    storage: Storage
    indexes: IndexCache = field(default_factory=IndexCache)
    max_index_size: int = DEFAULT_MAX_INDEX_SIZE
    chart_limits: Limits = field(default_factory=Limits)
    work_dir: str | None = None
    helm: Engine | None = None
    """The Helm engine for OCI registry calls: the process's own, or, for a context built
    without one, loaded on first use."""
    cache: dict[str, Callable[[str], dict[str, Any] | None]] = field(default_factory=dict)
    """Per source kind, a lookup of 'namespace/name' in that kind's informer."""
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The objects as this process last wrote them (the API server's answers), by
    'kind/namespace/name', kept until the informer's copy is as new."""
    metrics: Recorder | None = None
    """Where each reconcile's gotk_ series go; none in tests that do not read them."""
    shard_selector: str | None = None
    """--watch-label-selector: a source outside the shard is not there for this one."""
    events: EventRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventRecorder(self.kube, COMPONENT)

    def wrote(self, obj: dict[str, Any]) -> None:
        """Remember an object as the API server answered a write of it."""
        if obj.get("kind") and obj.get("metadata"):
            self.written[_key(obj)] = obj

    def forget(self, obj: dict[str, Any]) -> None:
        self.written.pop(_key(obj), None)

    def newest(self, raw: dict[str, Any]) -> dict[str, Any]:
        """`raw` (from an informer), or the object as this process last wrote it when that is
        newer: the informer has not seen the write yet. Without this, a reconcile queued while
        the previous one ran would start from the status before it, and fetch, store and
        announce the same artifact again."""
        mine = self.written.get(_key(raw))
        if mine is None:
            return raw
        if _uid(mine) == _uid(raw) and _newer(mine, raw):
            return mine
        self.forget(raw)  # the informer has caught up (or the object was recreated)
        return raw

    def engine(self) -> Engine:
        if self.helm is None:
            self.helm = Engine(max_workers=16)
        return self.helm

    async def secret(self, namespace: str, name: str) -> dict[str, bytes]:
        """The data of a Secret, decoded; a Failure naming it when it cannot be read."""
        try:
            secret = await rest.request(self.kube, "GET", SECRETS.path(namespace, name))
        except ApiException as exc:
            raise Failure(
                "FetchFailed",
                "AuthenticationFailed",
                f"failed to get secret '{namespace}/{name}': {exc.reason}",
            ) from None
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    async def proxy(self, namespace: str, name: str) -> credentials.Proxy:
        """The proxy a proxySecretRef names; a Failure (AuthenticationFailed, as Flux) when the
        Secret cannot be read or does not name one."""
        try:
            return credentials.proxy(await self.secret(namespace, name))
        except credentials.ProxySecretError as exc:
            raise Failure(
                "FetchFailed",
                "AuthenticationFailed",
                f"failed to get proxy address: invalid proxy secret '{namespace}/{name}': {exc}",
            ) from None

    async def source(self, kind: str, namespace: str, name: str) -> api.FluxObject | None:
        """A source object: from the informer cache when one is wired and holds it, else from
        the API server (which also answers for objects too new for the cache)."""
        cached = self.cache.get(kind)
        raw_cached = cached(f"{namespace}/{name}") if cached is not None else None
        if raw_cached is not None:
            # parse reads through JSON; the cache is untouched
            return api.parse(self.newest(raw_cached))
        raw = await self._read(kind, namespace, name)
        return None if raw is None else api.parse(raw)

    async def _read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object from the API server; in a shard, only if the shard's selector selects it
        (the API server judges the selector), as a shard's cache would hold it."""
        if self.shard_selector is None:
            return await rest.get_optional(self.kube, RESOURCES[kind].path(namespace, name))
        query = {"fieldSelector": f"metadata.name={name}", "labelSelector": self.shard_selector}
        listing = await rest.request(self.kube, "GET", RESOURCES[kind].path(namespace), query=query)
        items = listing.get("items") or []
        if not items:
            return None
        # A list's items carry no kind; the parse needs it.
        return {"apiVersion": listing.get("apiVersion"), "kind": kind, **items[0]}


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"


def _uid(obj: dict[str, Any]) -> str | None:
    uid = (obj.get("metadata") or {}).get("uid")
    return str(uid) if uid else None


def _newer(obj: dict[str, Any], than: dict[str, Any]) -> bool:
    """Whether `obj` is a later state than `than`. Resource versions are opaque, but the API
    server's are etcd revisions: numeric ones are compared as numbers, others never are."""
    a = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    b = str((than.get("metadata") or {}).get("resourceVersion", ""))
    return a.isdigit() and b.isdigit() and int(a) > int(b)
