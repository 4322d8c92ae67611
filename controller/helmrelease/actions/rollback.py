"""Rollback remediation: back to the newest good snapshot before the failed release."""

from __future__ import annotations

from controller.helmrelease.actions import common
from internal.manager.manager import Done
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    prev = req.work.status.previous(req.work.hr.ignore_test_failures())
    version = prev.version if prev else 0

    async def call() -> Done:
        return await req.mgr.rollback_release(version)

    done = await common.run(req, Action.ROLLBACK, call)
    common.report(req, Action.ROLLBACK, done)
    return done.failed
