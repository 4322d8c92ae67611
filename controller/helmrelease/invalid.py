"""A HelmRelease the models reject: Ready=False and Stalled=True with what is wrong.

The object has no typed form, so the status is patched on the raw object, touching only the
conditions, observedGeneration and lastHandledReconcileAt; every other status field is kept
as it was. The Warning event goes out only when that status changes, so a reconcile of the
same invalid object costs neither a write nor an event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api.meta import RECONCILE_REQUEST_ANNOTATION, Condition, ConditionStatus
from api.parse import ParseError
from controller.events import EventRecorder
from controller.helmrelease.work import Work
from controller.metrics import Recorder
from controller.runtime.informer import Informer
from internal.kube import rest
from internal.kube.client import ApiClient
from internal.kube.resources import HELM_RELEASES
from internal.release import conditions as cond

log = logging.getLogger(__name__)

REASON = "InvalidSpec"
"""Flux has no reason for an object its types reject; this is the one the sources use here."""
TERMINAL = "Reconciliation failed terminally due to configuration error"
"""Flux's prefix of a terminal configuration error."""
KIND = "HelmRelease"


def describe(exc: ParseError) -> str:
    """Each problem as 'field.path: what is wrong'. Pydantic's messages name what was expected,
    not what was given (only a duration quotes itself), so no values reach the status."""
    problems = "; ".join(f"{path}: {message}" for path, message in exc.problems)
    return f"{TERMINAL}: {problems}"


def _conditions(status: dict[str, Any]) -> list[Condition]:
    """The stored conditions that are well formed; a malformed one is dropped."""
    out = []
    for item in status.get("conditions") or []:
        try:
            out.append(Condition.model_validate(item))
        except ValidationError:
            continue
    return out


def _wire(conditions: list[Condition]) -> list[dict[str, Any]]:
    return [c.to_wire(exclude_unset=False) for c in conditions]


def invalid_status(raw: dict[str, Any], message: str) -> dict[str, Any] | None:
    """The status fields to patch, or None when the stored status already says so."""
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    assert isinstance(status, dict)
    meta = raw.get("metadata") or {}
    generation = int(meta.get("generation") or 0)
    old = _conditions(status)
    new = cond.set_condition(
        old, cond.READY, ConditionStatus.FALSE, REASON, message, generation=generation
    )
    new = cond.set_condition(
        new, cond.STALLED, ConditionStatus.TRUE, REASON, message, generation=generation
    )
    new = [c for c in new if c.type != cond.RECONCILING]
    patch: dict[str, Any] = {"conditions": _wire(new), "observedGeneration": generation}
    requested = (meta.get("annotations") or {}).get(RECONCILE_REQUEST_ANNOTATION)
    if requested:
        patch["lastHandledReconcileAt"] = requested
    before = {**status, "conditions": _wire(old)}
    if all(before.get(k) == v for k, v in patch.items()):
        return None
    return patch


def clear_stall(work: Work, reason: str) -> None:
    """Once a terminal cause is gone: its Stalled dropped, its Ready back to Unknown (as Flux
    marks a cleared prerequisite) until the rest of the reconcile says more."""
    for c in work.status.conditions or []:
        if c.reason != reason:
            continue
        if c.type == cond.STALLED:
            work.drop(cond.STALLED)
        elif c.type == cond.READY:
            work.condition(
                cond.READY, ConditionStatus.UNKNOWN, "Progressing", "reconciliation in progress"
            )


@dataclass(frozen=True)
class InvalidReporter:
    api: ApiClient
    releases: Informer
    events: EventRecorder
    metrics: Recorder

    async def report(self, raw: dict[str, Any], exc: ParseError) -> None:
        meta = raw.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name") or ""
        message = describe(exc)
        log.error("%s/%s: %s", ns, name, message)
        self._record_metrics(name, ns)
        patch = invalid_status(raw, message)
        if patch is None:
            return
        written = await rest.request(
            self.api,
            "PATCH",
            HELM_RELEASES.path(ns, name, "status"),
            body={"status": patch},
            content_type=rest.MERGE_PATCH,
        )
        self.releases.observe_write(written)
        await self.events.emit(raw, "Warning", REASON, message)

    def _record_metrics(self, name: str, ns: str) -> None:
        states = {cond.READY: "False", cond.RECONCILING: "Unknown", cond.STALLED: "True"}
        for type_, status in states.items():
            self.metrics.record_condition(KIND, name, ns, type_, status)
