"""Uninstall remediation: a failed install is removed so the next attempt starts clean; its
objects leave the inventory."""

from __future__ import annotations

from controller.helmrelease.actions import common
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    done = await common.run(req, Action.UNINSTALL_REMEDIATION, req.mgr.uninstall_release)
    common.report(req, Action.UNINSTALL_REMEDIATION, done)
    return done.failed
