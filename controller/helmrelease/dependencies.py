"""dependsOn: a release waits until each dependency is ready, is told the whole cycle it is in,
and stalls on a readyExpr that does not compile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.helmrelease.work import Work
from controller.runtime.controller import Result
from internal.dag.graph import Graph, describe_cycle
from internal.dag.readiness import InvalidExpression, dependency_ready
from internal.release import conditions as cond

Lookup = Callable[[str], dict[str, Any] | None]

# Stalls this step decides, and so clears once their cause is gone.
OWN_STALLS = ("DependencyCycle", "InvalidCELExpression", "InvalidHealthCheck")


def check_dependencies(
    work: Work, graph: Graph, lookup: Lookup, requeue_dependency: float
) -> Result | None:
    """None when every dependency is ready. Otherwise the status and events say why, and the
    result says when to look again: a stall waits for a change of the object."""
    stalled = next((c for c in work.status.conditions or [] if c.type == cond.STALLED), None)
    if stalled is not None and stalled.reason in OWN_STALLS:
        work.drop(cond.STALLED)
    deps = work.hr.spec.depends_on or []
    if not deps:
        return None
    cycle = graph.cycle_of(work.key)
    if cycle is not None:
        message = f"dependency cycle: {describe_cycle(cycle)}"
        work.stalled("DependencyCycle", message)
        work.event("Warning", "DependencyCycle", message)
        return Result()
    work.drop(cond.STALLED)
    for dep in deps:
        key = f"{dep.namespace or work.namespace}/{dep.name}"
        obj = lookup(key)
        if obj is None:
            message = f"dependency '{key}' not found"
        else:
            try:
                readiness = dependency_ready(work.raw, obj, dep.ready_expr)
            except InvalidExpression as exc:
                work.stalled("InvalidCELExpression", str(exc))
                return Result()
            if readiness.ready:
                continue
            message = readiness.message
        work.not_ready("DependencyNotReady", message)
        work.event("Normal", "DependencyNotReady", message)
        # Event-driven: the dependency's Ready transition queues this release at once; the
        # timer covers a dependency that never turns Ready.
        return Result(requeue_after=requeue_dependency, jitter=False)
    return None
