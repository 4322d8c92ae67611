"""Is a dependency ready? Flux's built-in check, or the user's `readyExpr` in CEL.

CEL runs through common-expression-language (Rust bindings; see docs/decisions.md): compiled
once per expression and cached, evaluated with `self` (the dependent) and `dep` (the
dependency) as plain JSON maps, as in Flux.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class InvalidExpression(ValueError):
    """A readyExpr that does not compile: the release stalls (InvalidCELExpression)."""


@dataclass(frozen=True)
class Readiness:
    ready: bool
    message: str


def builtin_ready(dep: Mapping[str, Any]) -> Readiness:
    """Ready=True at the dependency's current generation."""
    meta, status = dep.get("metadata", {}), dep.get("status") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    if status.get("observedGeneration") != meta.get("generation"):
        return Readiness(False, f"dependency '{name}' is not ready: generation not observed yet")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return Readiness(True, "")
            return Readiness(
                False, f"dependency '{name}' is not ready: {condition.get('message', '')}".rstrip()
            )
    return Readiness(False, f"dependency '{name}' is not ready: no Ready condition")


@lru_cache(maxsize=1024)
def compile_expression(expr: str) -> Any:
    import cel  # here, not at the top: it loads a REPL (~400 modules, ~20 MiB, 0.2 s of CPU)

    try:
        return cel.compile(expr)
    except (ValueError, RuntimeError) as exc:
        raise InvalidExpression(f"invalid readyExpr {expr!r}: {exc}") from None


def expression_ready(expr: str, dependent: Mapping[str, Any], dep: Mapping[str, Any]) -> Readiness:
    program = compile_expression(expr)
    meta = dep.get("metadata", {})
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    try:
        result = program.execute({"self": dict(dependent), "dep": dict(dep)})
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        return Readiness(False, f"dependency '{name}' readyExpr could not be evaluated: {exc}")
    if not isinstance(result, bool):
        raise InvalidExpression(
            f"readyExpr {expr!r} must return a bool, got {type(result).__name__}"
        )
    if result:
        return Readiness(True, "")
    return Readiness(False, f"dependency '{name}' is not ready according to readyExpr")


def dependency_ready(
    dependent: Mapping[str, Any], dep: Mapping[str, Any], ready_expr: str | None
) -> Readiness:
    if ready_expr:
        return expression_ready(ready_expr, dependent, dep)
    return builtin_ready(dep)
