"""Conditions as Flux's source-controller writes them: pure functions over status dicts."""

from __future__ import annotations

from typing import Any

from api import conditions as ac
from api.meta import Condition
from controller.sources.context import Failure, Outcome

FAILURE_CONDITIONS = (
    "FetchFailed",
    "BuildFailed",
    "StorageOperationFailed",
    "IncludeUnavailable",
)
POSITIVE = frozenset({"SourceVerified"})
"""Conditions a failure sets False rather than True (True is the good state)."""


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
) -> list[dict[str, Any]]:
    """Conditions with `type_` set, through the one typed `api.conditions.set_condition`; the
    sources keep their status as wire dicts."""
    typed = [Condition.model_validate(c) for c in conditions]
    out = ac.set_condition(typed, type_, status, reason, message, generation=generation)
    return [c.to_wire(exclude_unset=False) for c in out]


def remove_condition(conditions: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [c for c in conditions if c.get("type") != type_]


def success_status(old: dict[str, Any], outcome: Outcome, generation: int) -> dict[str, Any]:
    """Status after a successful reconcile: Ready=True, failures and Reconciling cleared."""
    conditions = list(old.get("conditions") or [])
    for t in (*FAILURE_CONDITIONS, "Reconciling", "Stalled", "ArtifactOutdated"):
        conditions = remove_condition(conditions, t)
    if outcome.artifact is not None and outcome.artifact_in_storage:
        conditions = set_condition(
            conditions,
            "ArtifactInStorage",
            "True",
            "Succeeded",
            f"stored artifact: revision '{outcome.artifact['revision']}'",
            generation,
        )
    if all(c[0] != "SourceVerified" for c in outcome.conditions):
        conditions = remove_condition(conditions, "SourceVerified")
    for type_, value, reason, message in outcome.conditions:
        conditions = set_condition(conditions, type_, value, reason, message, generation)
    conditions = set_condition(
        conditions, "Ready", "True", outcome.ready_reason, outcome.ready_message, generation
    )
    status = dict(old)
    status.update(outcome.status)
    if outcome.artifact is not None:
        status["artifact"] = outcome.artifact
    status["conditions"] = _ordered(conditions)
    status["observedGeneration"] = generation
    return status


def failure_status(old: dict[str, Any], failure: Failure, generation: int) -> dict[str, Any]:
    """Status after a failed reconcile: the failure condition and Ready=False carry its reason
    and message; a stalled failure also sets Stalled, a transient one Reconciling; a withdrawing
    one leaves no artifact."""
    conditions = list(old.get("conditions") or [])
    for t in FAILURE_CONDITIONS:
        if t != failure.condition:
            conditions = remove_condition(conditions, t)
    held = "False" if failure.condition in POSITIVE else "True"
    conditions = set_condition(
        conditions, failure.condition, held, failure.reason, failure.message, generation
    )
    conditions = set_condition(
        conditions, "Ready", "False", failure.reason, failure.message, generation
    )
    if failure.stalled:
        conditions = remove_condition(conditions, "Reconciling")
        conditions = set_condition(
            conditions, "Stalled", "True", failure.reason, failure.message, generation
        )
    else:
        conditions = remove_condition(conditions, "Stalled")
        conditions = set_condition(
            conditions,
            "Reconciling",
            "True",
            "ProgressingWithRetry",
            f"retrying after failure: {failure.message}"[:1024],
            generation,
        )
    status = dict(old)
    if failure.withdraw:
        conditions = remove_condition(conditions, "ArtifactInStorage")
        status.pop("artifact", None)
        status.pop("url", None)
    status["conditions"] = _ordered(conditions)
    status["observedGeneration"] = generation
    return status


def failing(status: dict[str, Any]) -> bool:
    """Whether a failure condition is True in `status`."""
    return any(
        c.get("type") in FAILURE_CONDITIONS and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


_ORDER = {t: i for i, t in enumerate(("Ready", "Reconciling", "Stalled"))}


def _ordered(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ready, Reconciling and Stalled first (as Flux orders them), then the rest."""
    return sorted(conditions, key=lambda c: _ORDER.get(str(c.get("type")), len(_ORDER)))
