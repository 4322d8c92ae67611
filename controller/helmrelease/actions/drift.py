"""Drift: the live objects differ from the stored release. `enabled` puts them back by
server-side apply, with no new Helm revision; `warn` only reports. Secret values never reach
the message: their patches are masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.meta import ConditionStatus
from controller.helmrelease.work import Retry, Work
from internal.drift.diff import Change, mask_secret_patch
from internal.kube.client import ApiException
from internal.manager.manager import ReleaseClient
from internal.release import conditions as cond

Drifted = Sequence[tuple[Change, dict[str, Any]]]
MAX_OPS_SHOWN = 10


def message(drifted: Drifted) -> str:
    lines = []
    for change, _ in drifted:
        lines.append(f"{change.object_id}: {change.type.value}")
        for op in mask_secret_patch(change.patch)[:MAX_OPS_SHOWN]:
            lines.append(f"  {op['op']} {op['path']}")
    return "Cluster state of release has drifted from the desired state:\n" + "\n".join(lines)


def no_drift(work: Work) -> None:
    work.condition(
        cond.DRIFTED,
        ConditionStatus.FALSE,
        "NoDriftDetected",
        "No drift detected in the release's objects",
    )


def warn(work: Work, drifted: Drifted, summary: str) -> None:
    work.condition(cond.DRIFTED, ConditionStatus.TRUE, "DriftDetected", summary)
    work.event("Warning", "DriftDetected", message(drifted))


async def correct(work: Work, client: ReleaseClient, drifted: Drifted, summary: str) -> None:
    work.event("Warning", "DriftDetected", message(drifted))
    try:
        await client.reconcile_release(drifted)
    except ApiException as exc:
        work.condition(cond.DRIFTED, ConditionStatus.TRUE, "DriftDetected", summary)
        work.event("Warning", "DriftCorrectionFailed", str(exc))
        raise Retry(str(exc)) from None
    work.condition(
        cond.DRIFTED, ConditionStatus.FALSE, "NoDriftDetected", f"Corrected drift:\n{summary}"
    )
    work.event("Normal", "DriftCorrected", message(drifted))
