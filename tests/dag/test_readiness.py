"""Dependency readiness: Flux's built-in rule and readyExpr in CEL."""

from __future__ import annotations

from typing import Any

import pytest

from internal.dag.readiness import InvalidExpression, dependency_ready


def hr(generation: int, observed: int, ready: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "db", "namespace": "apps", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": ready, "message": "installing"}],
            **status,
        },
    }


SELF = {"metadata": {"name": "web", "namespace": "apps", "annotations": {"tier": "gold"}}}


@pytest.mark.parametrize(
    ("dep", "ready", "message"),
    [
        (hr(2, 2, "True"), True, ""),
        (hr(3, 2, "True"), False, "generation not observed"),
        (hr(2, 2, "False"), False, "'apps/db' is not ready: installing"),
        ({"metadata": {"name": "db", "namespace": "apps"}}, False, "no Ready condition"),
    ],
)
def test_builtin_rule(dep: dict[str, Any], ready: bool, message: str) -> None:
    got = dependency_ready(SELF, dep, None)
    assert got.ready is ready
    assert message in got.message


def test_ready_expr_replaces_the_builtin_rule() -> None:
    expr = 'dep.status.lastAttemptedRevision == "6.0.3" && self.metadata.annotations.tier == "gold"'
    not_ready_builtin = hr(3, 2, "False", lastAttemptedRevision="6.0.3")
    assert dependency_ready(SELF, not_ready_builtin, expr).ready
    other = hr(2, 2, "True", lastAttemptedRevision="6.0.2")
    result = dependency_ready(SELF, other, expr)
    assert not result.ready
    assert "readyExpr" in result.message


def test_missing_field_is_not_ready_rather_than_a_crash() -> None:
    result = dependency_ready(SELF, hr(2, 2, "True"), "dep.status.nothere == 1")
    assert not result.ready
    assert "could not be evaluated" in result.message


@pytest.mark.parametrize("expr", ["dep.status.", "1 +", 'dep.metadata.name + "x"'])
def test_invalid_expressions_are_reported(expr: str) -> None:
    with pytest.raises(InvalidExpression):
        dependency_ready(SELF, hr(2, 2, "True"), expr)
