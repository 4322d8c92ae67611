"""Upgrade: the stored release to the desired chart and values (also how an unmanaged release
is adopted). A new release wants new tests."""

from __future__ import annotations

from controller.helmrelease.actions import common
from internal.release import conditions as cond
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    req.work.status.last_attempted_release_action = "upgrade"
    done = await common.run(req, Action.UPGRADE, req.mgr.upgrade_release)
    common.report(req, Action.UPGRADE, done)
    if not done.failed:
        req.work.drop(cond.TEST_SUCCESS)
    return done.failed
