"""Install: a fresh release. What was tested or remediated belonged to the release it
replaces, so those conditions go."""

from __future__ import annotations

from controller.helmrelease.actions import common
from internal.release import conditions as cond
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    req.work.status.last_attempted_release_action = "install"
    req.work.drop(cond.TEST_SUCCESS, cond.REMEDIATED)
    done = await common.run(req, Action.INSTALL, req.mgr.install_release)
    common.report(req, Action.INSTALL, done)
    if not done.failed:
        req.work.drop(cond.TEST_SUCCESS)
    return done.failed
