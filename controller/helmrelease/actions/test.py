"""Test: run the chart's test hooks against the newest release and record each hook's phase on
its snapshot. A hook that failed fails TestSuccess even when Helm reports no error."""

from __future__ import annotations

from api.meta import ConditionStatus
from controller.helmrelease.actions import common
from internal.helm import models as hm
from internal.release import conditions as cond
from internal.release import history
from internal.release.actions import Action


async def reconcile(req: common.Request) -> bool:
    done = await common.run(req, Action.TEST, req.mgr.test_release)
    status = req.work.status
    if isinstance(done.result, hm.TestResult) and status.history:
        status.history[0] = history.with_tests(status.history[0], done.result.tests)
    latest = status.latest()
    failed_hooks = latest.failed_tests() if latest else []
    if done.error is None and failed_hooks:
        message = f"Helm test failed for release {req.release}: {', '.join(failed_hooks)}"
        req.work.condition(cond.TEST_SUCCESS, ConditionStatus.FALSE, "TestFailed", message)
        req.work.event("Warning", "TestFailed", f"Helm test failed: {failed_hooks}")
        return False
    common.report(req, Action.TEST, done)
    return done.failed
