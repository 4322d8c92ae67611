"""`--no-cross-namespace-refs`: a release may take its chart only from its own namespace.

As helm-controller v1.6 checks it: the HelmChart that spec.chart makes (which lives in the
sourceRef's namespace) and the object spec.chartRef names. dependsOn is not checked, as in
Flux. A refused reference is terminal: Stalled, and no retry until the spec changes."""

from __future__ import annotations

from api.helmrelease import HelmRelease
from api.naming import chart_source_namespace, helm_chart_name
from controller.helmrelease.invalid import clear_stall
from controller.helmrelease.work import Work
from controller.runtime.controller import Result
from internal.release import conditions as cond

REASON = "AccessDenied"
"""fluxcd/pkg apis/acl's AccessDeniedReason."""


def denied(hr: HelmRelease) -> str | None:
    """Flux's AccessDeniedError message when the chart's source is in another namespace."""
    own = hr.metadata.namespace
    if hr.spec.chart is not None:
        kind, name = "HelmChart", helm_chart_name(hr)
    else:
        assert hr.spec.chart_ref is not None  # the model requires chart or chartRef
        kind, name = str(hr.spec.chart_ref.kind), hr.spec.chart_ref.name
    namespace = chart_source_namespace(hr)
    if namespace == own:
        return None
    return f"cross-namespace references are not allowed: cannot access {kind} {namespace}/{name}"


def enforce_access(work: Work, blocked: bool) -> Result | None:
    """None when the reference is allowed (a stall of an earlier denial is cleared); otherwise
    Ready=False and Stalled=True AccessDenied, one Warning event, and no requeue."""
    message = denied(work.hr) if blocked else None
    if message is None:
        clear_stall(work, REASON)
        return None
    work.stalled(REASON, message)
    work.drop(cond.RECONCILING)
    work.event("Warning", REASON, message)
    work.status.observed_generation = work.generation
    return Result()
