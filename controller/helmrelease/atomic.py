"""The atomic release loop, as Flux's `AtomicRelease`: determine the state (pure), choose the
next step (pure), run its action reconciler, and look again, until nothing is left to do, a step
fails, or a family of actions would run twice in one reconcile. The status is written before
each action starts and when the loop ends."""

from __future__ import annotations

import logging

from api import conditions
from api.meta import ConditionStatus
from controller.helmrelease import inputs
from controller.helmrelease.actions import RECONCILERS, Request, drift
from controller.helmrelease.actions.common import set_inventory
from controller.helmrelease.actions.drift import Drifted
from controller.helmrelease.approval import Planner, holds, open_gate
from controller.helmrelease.work import Retry, Work
from internal.drift.diff import summarize
from internal.kube.client import ApiException
from internal.release import conditions as cond
from internal.release.actions import Action, ActionFamily, family_of
from internal.release.plan import (
    Context,
    Outcome,
    RollbackTarget,
    Step,
    after_step,
    may_run,
    next_step,
)
from internal.release.state import Desired, ReleaseState, State, determine_state, with_drift

log = logging.getLogger(__name__)


async def rollback_target(req: Request, state: State) -> RollbackTarget:
    """Only a failed release is rolled back: then check that its target is still in storage as
    recorded. Snapshots of another digest scheme cannot be checked and are trusted."""
    if state.state is not ReleaseState.FAILED:
        return RollbackTarget.OK
    prev = req.work.status.previous(req.work.hr.ignore_test_failures())
    if prev is None:
        return RollbackTarget.MISSING
    if prev.api_version != "v2":
        return RollbackTarget.OK
    return await req.mgr.verify(prev.version, prev.digest)


async def observe(req: Request, desired: Desired, drift_checked: bool) -> tuple[State, Drifted]:
    """The release's state now: storage as the watch shows it (read when it changed),
    drift looked for when InSync."""
    work, mgr = req.work, req.mgr
    latest = work.status.latest()
    await mgr.sync(latest.version if latest else None)
    state = determine_state(mgr.stored(), desired, inputs.observed(work.hr))
    drifted: Drifted = []
    if state.needs_drift_check and not drift_checked:
        try:
            drifted = await mgr.detect_drift(inputs.ignore_rules(work.hr))
        except ApiException as exc:  # e.g. the service account may not read an object
            return State(
                ReleaseState.UNKNOWN, f"unable to determine cluster state: {exc.reason}"
            ), []
        state = with_drift(state, bool(drifted), summarize([c for c, _ in drifted]))
        if not drifted:
            drift.no_drift(work)
    return state, drifted


async def settle(
    req: Request, step: Step, ctx: Context, state: State, drifted: Drifted, force_at: str | None
) -> None:
    """End the loop on a step that runs no Helm action: in sync, stalled, or drift reported."""
    work = req.work
    if step.action is Action.NONE:
        if force_at is not None:
            work.status.last_handled_force_at = force_at
        if work.status.inventory is None and (release := await req.mgr.load()) is not None:
            await set_inventory(req, release)
    elif step.action is Action.STALL:
        retries = step.stall is not None and step.stall.value == "RetriesExceeded"
        message = retries_message(work, ctx) if retries else step.reason
        work.condition(cond.STALLED, ConditionStatus.TRUE, str(step.stall), message)
    else:
        drift.warn(work, drifted, state.reason)
    work.finish(observed=True)


async def run_atomic(req: Request, desired: Desired, planner: Planner | None = None) -> None:
    """`planner` makes the plans the approval gate holds (`approval_plans.plan_action`)."""
    work = req.work
    hr = work.hr
    force_at = hr.force_request()
    done: set[ActionFamily] = set()
    gate = open_gate(work, planner)
    if gate is None:
        return
    while True:
        if req.mgr.engine.cancelling:
            # Shutting down with the grace spent, as Flux on a cancelled context: what the
            # last action recorded is written, and no next action starts.
            work.summarize()
            raise Retry("the controller is shutting down")
        state, drifted = await observe(req, desired, ActionFamily.DRIFT in done)
        target = await rollback_target(req, state)
        ctx = inputs.context(hr, force_at is not None, target)
        if state.state is ReleaseState.UNKNOWN:
            work.not_ready("StateError", f"could not determine release state: {state.reason}")
            raise Retry(state.reason)
        step = next_step(state.state, ctx)
        log.info("state %s (%s) -> %s", state.state, state.reason, step.action)
        if step.action in (Action.NONE, Action.STALL, Action.WARN_DRIFT):
            await settle(req, step, ctx, state, drifted, force_at)
            return
        if step.action is Action.CORRECT_DRIFT:
            if await holds(gate, req, state.state, step, desired, drifted):
                return
            if done:
                await req.writer.write_status(work)
            await drift.correct(work, req.mgr, drifted, state.reason)
            done.add(ActionFamily.DRIFT)
            continue
        verdict = may_run(step.action, frozenset(done), ctx)
        if verdict is not Outcome.CONTINUE:
            finish(work, verdict, ctx)
            return
        if await holds(gate, req, state.state, step, desired, drifted):
            return
        if step.clear_history:
            work.status.history = []
        failed = await RECONCILERS[step.action](req)
        family = family_of(step.action)
        if not failed and family is ActionFamily.RELEASE:
            # Recorded after every successful release action, as Flux does, so a changed
            # post-renderer makes one upgrade, not one per reconcile.
            work.status.observed_post_renderers_digest = desired.post_renderers_digest or None
            work.status.observed_common_metadata_digest = desired.common_metadata_digest or None
        if force_at is not None and family is ActionFamily.RELEASE:
            work.status.last_handled_force_at = force_at
            force_at = None
        if family is not None:
            done.add(family)
        outcome = after_step(step.action, failed, inputs.context(hr, force_at is not None, target))
        if outcome is not Outcome.CONTINUE:
            finish(work, outcome, ctx)
            return
        # What the action recorded is written before anything else acts (a next action's
        # progress, or drift correction), or when the loop ends: not once more in between.


def retries_message(work: Work, ctx: Context) -> str:
    active = ctx.active()
    count = active[1] if active else 0
    action = work.status.last_attempted_release_action or "release"
    return f"Failed to {action} after {count} attempt(s)"


def finish(work: Work, outcome: Outcome, ctx: Context) -> None:
    """End the loop on `outcome`: done, stalled, or a retry (backoff or the retryInterval)."""
    work.summarize()
    if outcome is Outcome.DONE:
        work.drop(cond.RECONCILING)
        return
    if outcome is Outcome.STALL:
        work.condition(
            cond.STALLED, ConditionStatus.TRUE, "RetriesExceeded", retries_message(work, ctx)
        )
        work.drop(cond.RECONCILING)
        return
    ready = conditions.get(work.status.conditions, cond.READY)
    message = ready.message if ready else ""
    work.condition(cond.RECONCILING, ConditionStatus.TRUE, "ProgressingWithRetry", message)
    after = inputs.retry_interval(work.hr) if outcome is Outcome.REQUEUE_RETRY_INTERVAL else None
    raise Retry(outcome.value, requeue_after=after)
