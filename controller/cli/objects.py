"""Reading Helmward's kinds for the CLI: each object as its typed model (`api`), or, when the
models reject its spec, as its typed metadata and status with the parse error beside them, so
one invalid object never hides the others. Ready, Suspended and the artifact revision are read
as Flux's CLI reads them."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, ValidationError

import api
from api import conditions
from api.kinds import BY_API_VERSION_AND_KIND
from api.meta import Artifact, Condition, ConditionType, FluxModel, ObjectMeta
from controller.cli.session import Session
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import (
    BUCKETS,
    GIT_REPOSITORIES,
    HELM_CHARTS,
    HELM_RELEASES,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
    Resource,
)

# The kinds in the order of the delivery chain: sources, the charts built from them, the
# releases of those charts. Listings are sorted by namespace, this order, then name.
RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        HELM_REPOSITORIES,
        GIT_REPOSITORIES,
        BUCKETS,
        OCI_REPOSITORIES,
        HELM_CHARTS,
        HELM_RELEASES,
    )
}
SOURCE_KINDS = tuple(k for k in RESOURCES if k != "HelmRelease")
RANK = {kind: i for i, kind in enumerate(RESOURCES)}

# What a user may type for a kind (`hr`, `helmcharts`, `HelmRepository`...).
ALIASES: dict[str, str] = {}
for _kind, _res in RESOURCES.items():
    _model = BY_API_VERSION_AND_KIND[(_res.api_version, _kind)]
    for _alias in (_kind, _res.plural, _model.resource.singular, *_model.resource.short_names):
        ALIASES[_alias.lower()] = _kind

NOT_RECONCILED = "waiting to be reconciled"
"""Flux's message for an object without a Ready condition."""
STATIC_READY = "Helm repository is Ready"
"""What Flux's CLI says of an OCI HelmRepository, which no controller reconciles."""

_HEX = re.compile(r"\b[a-f0-9]{40,128}\b")


def truncate_hex(text: str) -> str:
    """Hex digests of 40 to 128 digits (SHA-1 to SHA-512) cut to 8, as Flux's CLI prints them."""
    return _HEX.sub(lambda m: m.group(0)[:8], text)


def kind_of(word: str) -> str | None:
    """The kind `word` names (any case, plural, singular or short name), if any."""
    return ALIASES.get(word.lower())


class _Status(FluxModel):
    """The status fields every kind shares, read leniently from an object the models reject."""

    model_config = ConfigDict(extra="ignore")

    conditions: list[Condition] | None = None
    observed_generation: int | None = None
    last_handled_reconcile_at: str | None = None
    artifact: Artifact | None = None


@dataclass(frozen=True)
class Item:
    """One object: its typed model, or None with `invalid` saying why the models reject it."""

    kind: str
    metadata: ObjectMeta
    model: api.FluxObject | None
    conditions: tuple[Condition, ...]
    suspended: bool
    observed_generation: int | None
    last_handled_reconcile_at: str | None
    artifact: Artifact | None
    invalid: str | None = None

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""

    @property
    def ref(self) -> str:
        """`Kind namespace/name`, as the CLI names an object."""
        return f"{self.kind} {self.namespace}/{self.name}"

    def condition(self, type_: str) -> Condition | None:
        return conditions.get(self.conditions, type_)

    @property
    def static(self) -> bool:
        """A static object, which has no reconciler: an OCI HelmRepository."""
        return isinstance(self.model, api.HelmRepository) and self.model.spec.type == "oci"

    @property
    def ready(self) -> tuple[str, str]:
        """(status, message) of the Ready condition; False and Flux's 'waiting to be
        reconciled' when there is none; True for a static object, as Flux's CLI shows it."""
        if self.static:
            return "True", STATIC_READY
        c = self.condition(ConditionType.READY)
        if c is None:
            return "False", NOT_RECONCILED
        return c.status.value, c.message

    @property
    def is_ready(self) -> bool:
        return self.ready[0] == "True"

    @property
    def release(self) -> api.HelmRelease | None:
        return self.model if isinstance(self.model, api.HelmRelease) else None

    @property
    def revision(self) -> str:
        """Flux's REVISION column: a release's latest chart version (else the revision last
        attempted); a source's artifact revision."""
        hr = self.release
        if hr is not None:
            status = hr.status
            if status and status.history:
                return status.history[0].chart_version
            return (status.last_attempted_revision if status else None) or ""
        return self.artifact.revision if self.artifact else ""


def item_of(obj: dict[str, Any]) -> Item:
    """The Item of an object as the API server returned it."""
    kind = str(obj.get("kind", ""))
    try:
        model: api.FluxObject | None = api.parse(obj)
        invalid = None
    except api.ParseError as exc:
        model = None
        invalid = str(exc.problems[0][0]) + ": " + exc.problems[0][1] if exc.problems else str(exc)
    if model is not None:
        status: Any = getattr(model, "status", None)
        spec: Any = getattr(model, "spec", None)
        return Item(
            kind=kind,
            metadata=model.metadata,
            model=model,
            conditions=tuple((status.conditions if status else None) or ()),
            suspended=bool(getattr(spec, "suspend", False)),
            observed_generation=status.observed_generation if status else None,
            last_handled_reconcile_at=status.last_handled_reconcile_at if status else None,
            artifact=getattr(status, "artifact", None) if status else None,
        )
    meta = ObjectMeta.model_validate(obj.get("metadata") or {})
    try:
        lenient = _Status.model_validate(obj.get("status") or {})
    except ValidationError:
        lenient = _Status()
    spec_raw = obj.get("spec")
    return Item(
        kind=kind,
        metadata=meta,
        model=None,
        conditions=tuple(lenient.conditions or ()),
        suspended=isinstance(spec_raw, dict) and spec_raw.get("suspend") is True,
        observed_generation=lenient.observed_generation,
        last_handled_reconcile_at=lenient.last_handled_reconcile_at,
        artifact=lenient.artifact,
        invalid=invalid,
    )


async def list_items(api_client: ApiClient, kind: str, namespace: str | None) -> list[Item]:
    """Every object of `kind` in `namespace` (None: every namespace); none when the API server
    does not serve the kind (its CRD is not installed)."""
    try:
        listing = await rest.request(api_client, "GET", RESOURCES[kind].path(namespace))
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return [item_of({"kind": kind, **o}) for o in listing.get("items") or []]


async def get_item(api_client: ApiClient, kind: str, namespace: str, name: str) -> Item | None:
    obj = await rest.get_optional(api_client, RESOURCES[kind].path(namespace, name))
    return None if obj is None else item_of(obj)


def sort_key(item: Item) -> tuple[str, int, str]:
    return item.namespace, RANK.get(item.kind, len(RANK)), item.name


def one_line(text: str) -> str:
    """A message on one table line: its lines joined, runs of blanks made one space."""
    return " ".join(text.split())


async def find_release(session: Session, name: str) -> Item | None:
    """The HelmRelease `name` of the session's namespace; None, said on stderr, when absent."""
    item = await get_item(session.api, "HelmRelease", session.namespace, name)
    if item is None:
        print(
            f"✗ HelmRelease '{name}' not found in '{session.namespace}' namespace",
            file=sys.stderr,
        )
    return item
