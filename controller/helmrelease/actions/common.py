"""What every action reconciler shares: the request it works on, the progress it reports before
Helm runs, and how an outcome lands in the status (history, inventory, conditions, events and
failure counters), all read from the one action table."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.helmrelease import ResourceInventory, ResourceRef
from api.meta import ConditionStatus
from controller.helmrelease import inputs
from controller.helmrelease.status import StatusWriter
from controller.helmrelease.work import Work
from controller.metrics import Recorder
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.manager.manager import Done, Manager
from internal.manager.options import timeout
from internal.release import conditions as cond
from internal.release import history
from internal.release.actions import ACTIONS, Action, ActionFamily, FailureCount

log = logging.getLogger(__name__)

LOG_LINES = 5


@dataclass
class Request:
    """One action of one reconcile."""

    work: Work
    mgr: Manager
    writer: StatusWriter
    metrics: Recorder | None = None

    @property
    def chart(self) -> str:
        meta = self.mgr.chart.info.metadata
        return f"{meta.get('name', '')!s}@{meta.get('version', '')!s}"

    @property
    def release(self) -> str:
        return f"{self.mgr.target.namespace}/{self.mgr.release_name()}"


async def run(req: Request, action: Action, call: Callable[[], Awaitable[Done]]) -> Done:
    """Report progress, run the action (and its health checks), record what it stored."""
    await progress(req, action)
    started = time.monotonic()
    done = await call()
    spec = ACTIONS[action]
    if spec.waits_healthy and not done.failed:
        done = await check_health(req, action, done)
    seconds = time.monotonic() - started
    if spec.attempt is not None:
        req.work.status.last_attempted_release_action_duration = f"{seconds:.3f}s"
    if req.metrics is not None:
        kind = str(req.work.raw.get("kind") or "HelmRelease")
        req.metrics.record_action(kind, action.value, done.failed, seconds)
    await record(req, action, done)
    return done


async def progress(req: Request, action: Action) -> None:
    work = req.work
    message = (
        f"Running '{action.value}' action with timeout of {inputs.action_timeout(work.hr, action)}"
    )
    work.condition(cond.RECONCILING, ConditionStatus.TRUE, "Progressing", message)
    work.drop(cond.STALLED)
    if ACTIONS[action].family is ActionFamily.RELEASE:
        work.condition(cond.READY, ConditionStatus.UNKNOWN, "Progressing", message)
    await req.writer.write_status(work)


def written(done: Done) -> list[hm.Release]:
    return [o.release for o in done.observations if o.release and o.operation != "delete"]


async def record(req: Request, action: Action, done: Done) -> None:
    """Fold the storage writes into the history, and the newest into the inventory."""
    status = req.work.status
    snaps = list(status.history or [])
    label = ACTIONS[action].history_label
    for obs in done.observations:
        # Which controller wrote which record: a shard's log shows the releases it acted on.
        log.info("Helm storage %s %s", obs.operation, obs.key)
        if obs.release is None or obs.operation == "delete":
            continue
        # The action names the release it made; an update of an older one keeps its own.
        made = obs.operation == "create"
        snap = history.snapshot(obs.release, label if made else None)
        snaps = history.observe(snaps, snap)
    status.history = history.bounded(snaps, req.work.hr.spec.effective_max_history())
    releases = written(done)
    if releases:
        await set_inventory(req, releases[-1])
    elif action is Action.UNINSTALL_REMEDIATION and not done.failed:
        status.inventory = None


async def set_inventory(req: Request, release: hm.Release) -> None:
    entries = await req.mgr.inventory(release, req.mgr.chart.crds())
    req.work.status.inventory = ResourceInventory(
        entries=[ResourceRef(id=e["id"], v=e["v"]) for e in entries]
    )


async def check_health(req: Request, action: Action, done: Done) -> Done:
    """After a successful install or upgrade, wait for what the healthCheckExprs cover. A
    failure fails the action, and the release is recorded failed in storage, as Helm records a
    failed wait."""
    hr = req.work.hr
    checks = inputs.health_checks(hr, action)
    releases = written(done)
    if not checks or not releases:
        return done
    spec = hr.spec.install if action is Action.INSTALL else hr.spec.upgrade
    within = timeout(spec.timeout if spec else None, hr).total_seconds()
    why = await req.mgr.wait_healthy(releases[-1], checks, within)
    if why is None:
        return done
    message = f"health check failed: {why}"
    marked = await req.mgr.mark_failed(message)
    if marked.error is not None:
        message = f"{message} (and it could not be recorded failed: {marked.error.message})"
    return Done([*done.observations, *marked.observations], herr.HelmError(message))


def report(req: Request, action: Action, done: Done) -> None:
    """The outcome on the action's condition, as an event, and in the failure counters."""
    if done.error is None:
        succeeded(req, action)
    else:
        failed(req, action, done.error)
        count_failure(req.work, action, stored=bool(done.observations))


def succeeded(req: Request, action: Action) -> None:
    spec = ACTIONS[action]
    message = f"Helm {spec.verb} succeeded for release {req.release} with chart {req.chart}"
    reason = f"{spec.title}Succeeded"
    assert spec.condition is not None
    req.work.condition(spec.condition, ConditionStatus.TRUE, reason, message)
    req.work.event("Normal", reason, message)


def failed(req: Request, action: Action, error: herr.HelmError) -> None:
    spec = ACTIONS[action]
    message = (
        f"Helm {spec.verb} failed for release {req.release} with chart {req.chart}: "
        f"{error.message.strip()}"
    )
    logs = "\n".join(error.logs[-LOG_LINES:])
    if logs:
        message += f"\n\nLast Helm logs:\n\n{logs}"
    reason = "TestFailed" if action is Action.TEST else f"{spec.title}Failed"
    assert spec.condition is not None
    req.work.condition(spec.condition, ConditionStatus.FALSE, reason, message)
    req.work.event("Warning", f"{spec.title}Failed", message)


def count_failure(work: Work, action: Action, *, stored: bool) -> None:
    """As Flux: every failure counts in `failures`; an install or upgrade counts against its
    own counter only when it reached storage; a failed test counts against the action that
    made the release, unless test failures are ignored."""
    status = work.status
    status.failures = (status.failures or 0) + 1
    counting = ACTIONS[action].failures
    if counting is FailureCount.RELEASE and not stored:
        return
    if counting is FailureCount.RELEASED_BY and work.hr.ignore_test_failures():
        return
    if counting not in (FailureCount.RELEASE, FailureCount.RELEASED_BY):
        return
    against = ACTIONS[action].attempt or status.last_attempted_release_action
    if against == "install":
        status.install_failures = (status.install_failures or 0) + 1
    elif against == "upgrade":
        status.upgrade_failures = (status.upgrade_failures or 0) + 1
