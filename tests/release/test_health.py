"""healthCheckExprs, evaluated as Flux's status evaluator does."""

from __future__ import annotations

import re

import pytest

from internal.release.health import Check, Health, InvalidHealthCheck, evaluate, validate

CERT = Check(
    api_version="cert-manager.io/v1",
    kind="Certificate",
    current="status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
    failed="status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')",
)


def _cert(ready: str | None, generation: int = 1, observed: int = 1) -> dict[str, object]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web", "generation": generation},
        "status": {"observedGeneration": observed, "conditions": conditions},
    }


@pytest.mark.parametrize(
    ("obj", "health"),
    [
        (_cert("True"), Health.CURRENT),
        (_cert("False"), Health.FAILED),
        (_cert("Unknown"), Health.IN_PROGRESS),
        (_cert("True", generation=2, observed=1), Health.IN_PROGRESS),
    ],
)
def test_rows(obj: dict[str, object], health: Health) -> None:
    assert evaluate(CERT, obj)[0] is health


def test_in_progress_is_tried_first() -> None:
    check = Check("v1", "ConfigMap", current="true", in_progress="data.phase == 'busy'")
    busy = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"phase": "busy"}}
    assert evaluate(check, busy)[0] is Health.IN_PROGRESS
    assert evaluate(check, {**busy, "data": {"phase": "done"}})[0] is Health.CURRENT


def test_a_missing_field_is_in_progress_with_the_reason() -> None:
    check = Check("v1", "ConfigMap", current="data.ready == 'yes'")
    health, why = evaluate(check, {"apiVersion": "v1", "kind": "ConfigMap"})
    assert health is Health.IN_PROGRESS
    assert "could not be evaluated" in why


def test_matching_and_validation() -> None:
    assert CERT.matches(_cert("True"))
    assert not CERT.matches({"apiVersion": "v1", "kind": "Certificate"})
    assert Check("v1", None, current="true").matches({"apiVersion": "v1", "kind": "Anything"})
    with pytest.raises(InvalidHealthCheck, match=re.escape("current 'status.(' does not compile")):
        validate([Check("v1", "ConfigMap", current="status.(")])
