"""Unlock: a release left pending by a crash is marked failed, so it can be remediated, and its
snapshot is refreshed to match storage."""

from __future__ import annotations

from api.meta import ConditionStatus
from controller.helmrelease.actions import common
from internal.release import conditions as cond
from internal.release import history
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    await common.progress(req, Action.UNLOCK)
    left, done = await req.mgr.unlock()
    if done.error is not None:
        raise done.error
    target = req.mgr.target
    req.work.condition(
        cond.RELEASED,
        ConditionStatus.FALSE,
        "PendingRelease",
        f"Unlocked Helm release {target.namespace}/{target.release_name} left in '{left}' state",
    )
    req.work.event("Normal", "PendingRelease", f"Unlocked release left in '{left}'")
    status = req.work.status
    for release in common.written(done):
        status.history = history.observe(status.history or [], history.snapshot(release, None))
    return False
