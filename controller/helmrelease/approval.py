"""The approval gate in the atomic loop (`helmward.io/approval: required`).

Before an action the gate holds runs (`internal.release.approval.gated`), its plan is made
(`approval_plans.plan_action`). Unless `helmward.io/approved` names the plan's digest, nothing
runs: Ready is False with reason `AwaitingApproval` and a message naming the digest and the
summary (the plan is recorded there, where `helmward approve` reads it), one Normal event is
recorded per new plan, and the release waits. An edit of the annotations wakes it (the
controller's predicate passes annotation changes), as any change of the object does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from api import conditions
from controller.helmrelease.actions import Request
from controller.helmrelease.actions.drift import Drifted
from controller.helmrelease.approval_plans import PreviewError, plan_action
from controller.helmrelease.work import Retry, Work
from internal.release import approval
from internal.release import conditions as cond
from internal.release.actions import ACTIONS, Action
from internal.release.plan import Step
from internal.release.state import Desired, ReleaseState

PLAN_FAILED = "PlanFailed"
"""Ready's reason, and a Warning event, when the plan of a held action cannot be made."""


class PlanView(Protocol):
    @property
    def digest(self) -> str: ...
    @property
    def summary(self) -> str: ...


Planner = Callable[[Request, Action, Drifted], Awaitable[PlanView]]


@dataclass(frozen=True)
class Gate:
    policy: approval.Policy
    planner: Planner = plan_action


def open_gate(work: Work, planner: Planner | None = None) -> Gate | None:
    """The gate the object's annotations ask for. None when one of them has a value the gate
    does not know: then Ready and Stalled say so (reason InvalidApproval), with one Warning
    event, and nothing runs until the annotation is fixed."""
    stalled = conditions.get(work.status.conditions, cond.STALLED)
    try:
        policy = approval.policy(work.hr.metadata.annotations)
    except approval.InvalidPolicy as exc:
        message = str(exc)
        if stalled is None or (stalled.reason, stalled.message) != (approval.INVALID, message):
            work.event("Warning", approval.INVALID, message)
        work.stalled(approval.INVALID, message)
        work.status.observed_generation = work.generation  # terminal until the object changes
        return None
    if stalled is not None and stalled.reason == approval.INVALID:
        work.drop(cond.STALLED)
    return Gate(policy, planner or plan_action)


def what(action: Action) -> str:
    """How the messages name the held action."""
    if action is Action.CORRECT_DRIFT:
        return "drift correction"
    return f"Helm {ACTIONS[action].verb}"


def pending(req: Request, action: Action, plan: PlanView) -> approval.Pending:
    work = req.work
    return approval.Pending(
        what(action),
        plan.digest,
        plan.summary,
        f"release {req.release} with chart {req.chart}",
        f"helmward approve -n {work.namespace} {work.name}",
    )


def recorded(work: Work) -> approval.Recorded | None:
    """The plan the Ready condition records as waiting, if it does."""
    ready = conditions.get(work.status.conditions, cond.READY)
    if ready is None or ready.reason != approval.AWAITING:
        return None
    return approval.parse(ready.message)


async def holds(
    gate: Gate, req: Request, state: ReleaseState, step: Step, desired: Desired, drifted: Drifted
) -> bool:
    """Whether the gate holds `step`: True when it waits for an approval (the status and events
    say so); False when it may run. Raises Retry when its plan cannot be made."""
    work, action = req.work, step.action
    changed = state is ReleaseState.FAILED and approval.changed_since_release(
        req.mgr.stored(), desired, work.status.latest()
    )
    if not approval.gated(gate.policy, action, state, changed):
        return False
    try:
        plan = await gate.planner(req, action, drifted)
    except PreviewError as exc:
        message = f"could not plan the {what(action)} to approve: {exc}"
        work.not_ready(PLAN_FAILED, message)
        work.event("Warning", PLAN_FAILED, message)
        raise Retry(message) from None
    verdict = approval.decide(gate.policy, pending(req, action, plan), recorded(work))
    for notice in verdict.events:
        work.event(notice.type, notice.reason, notice.message)
    if verdict.proceed:
        return False
    work.not_ready(approval.AWAITING, verdict.message)
    work.drop(cond.RECONCILING, cond.STALLED)
    return True
