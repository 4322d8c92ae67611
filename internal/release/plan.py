"""What to do next for a release in a given state: the table of Flux's atomic release.

| State     | Action                                                                  |
|-----------|-------------------------------------------------------------------------|
| Absent    | install; out of install retries and not forced: stall RetriesExceeded   |
| Locked    | unlock                                                                  |
| Unmanaged | clear history, upgrade (adopt)                                          |
| OutOfSync | upgrade; out of upgrade retries and not forced: stall RetriesExceeded   |
| Untested  | test                                                                    |
| Failed    | RetryOnFailure: upgrade. Else: no count or forced: upgrade; exhausted   |
|           | without remediateLastFailure: stall; rollback to the previous snapshot  |
|           | (missing: stall MissingRollbackTarget; corrupt: upgrade) or uninstall   |
| Drifted   | enabled: correct drift; warn: report only                               |
| InSync    | forced: upgrade; else nothing                                           |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.helmrelease import ActionStrategyName, RemediationStrategy
from internal.release.actions import Action, ActionFamily, family_of
from internal.release.state import ReleaseState


class StallReason(StrEnum):
    RETRIES_EXCEEDED = "RetriesExceeded"
    MISSING_ROLLBACK_TARGET = "MissingRollbackTarget"


class RollbackTarget(StrEnum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"


# The spec's own enums, under the names the table reads best with.
Strategy = ActionStrategyName
Remediation = RemediationStrategy


@dataclass(frozen=True)
class Policy:
    """One action's retry and remediation settings, with Flux's defaults applied."""

    retries: int = 0
    remediate_last_failure: bool = False
    strategy: Strategy = Strategy.REMEDIATE_ON_FAILURE
    remediation: Remediation = Remediation.UNINSTALL

    def exhausted(self, failures: int) -> bool:
        return self.retries >= 0 and failures > self.retries


@dataclass(frozen=True)
class Context:
    """Everything beyond the state that the choice depends on."""

    install: Policy = Policy()
    upgrade: Policy = Policy(remediation=Remediation.ROLLBACK)
    install_failures: int = 0
    upgrade_failures: int = 0
    last_attempted: str | None = None
    """status.lastAttemptedReleaseAction: 'install', 'upgrade' or None."""
    force_requested: bool = False
    drift_correct: bool = False
    """driftDetection.mode is 'enabled' (correct) rather than 'warn'."""
    rollback_target: RollbackTarget = RollbackTarget.OK

    def active(self) -> tuple[Policy, int] | None:
        if self.last_attempted == "install":
            return self.install, self.install_failures
        if self.last_attempted == "upgrade":
            return self.upgrade, self.upgrade_failures
        return None


@dataclass(frozen=True)
class Step:
    action: Action
    reason: str = ""
    stall: StallReason | None = None
    clear_history: bool = False


def next_step(state: ReleaseState, ctx: Context) -> Step:
    """The single next step for a release in `state`."""
    match state:
        case ReleaseState.IN_SYNC:
            if ctx.force_requested:
                return Step(Action.UPGRADE, "forcing upgrade for in-sync release")
            return Step(Action.NONE, "release in-sync with desired state")
        case ReleaseState.LOCKED:
            return Step(Action.UNLOCK, "release locked")
        case ReleaseState.ABSENT:
            if ctx.install.exhausted(ctx.install_failures) and not ctx.force_requested:
                return Step(Action.STALL, "cannot install release", StallReason.RETRIES_EXCEEDED)
            # An install starts the history afresh, so nothing before it is a rollback target.
            return Step(Action.INSTALL, "release not installed", clear_history=True)
        case ReleaseState.UNMANAGED:
            return Step(Action.UPGRADE, "release not managed by controller", clear_history=True)
        case ReleaseState.OUT_OF_SYNC:
            if ctx.upgrade.exhausted(ctx.upgrade_failures) and not ctx.force_requested:
                return Step(Action.STALL, "cannot upgrade release", StallReason.RETRIES_EXCEEDED)
            return Step(Action.UPGRADE, "release out-of-sync with desired state")
        case ReleaseState.UNTESTED:
            return Step(Action.TEST, "release has not been tested")
        case ReleaseState.DRIFTED:
            if ctx.drift_correct:
                return Step(Action.CORRECT_DRIFT, "detected changes in cluster state")
            return Step(Action.WARN_DRIFT, "detected changes in cluster state")
        case ReleaseState.FAILED:
            return _failed(ctx)
        case _:
            raise ValueError(f"no step for release state {state!r}")


def _failed(ctx: Context) -> Step:
    active = ctx.active()
    if active is None:
        return Step(Action.UPGRADE, "no active remediation strategy")
    policy, failures = active
    if policy.strategy is Strategy.RETRY_ON_FAILURE:
        return Step(Action.UPGRADE, "retrying upgrade for failed release")
    if failures <= 0:
        return Step(Action.UPGRADE, "release conditions have changed since last failure")
    if ctx.force_requested:
        return Step(Action.UPGRADE, "forcing upgrade for failed release")
    if policy.exhausted(failures) and not policy.remediate_last_failure:
        return Step(Action.STALL, "cannot remediate failed release", StallReason.RETRIES_EXCEEDED)
    if policy.remediation is Remediation.UNINSTALL:
        return Step(Action.UNINSTALL_REMEDIATION, "remediating failed release by uninstall")
    match ctx.rollback_target:
        case RollbackTarget.MISSING:
            return Step(
                Action.STALL,
                "no previous release to roll back to",
                StallReason.MISSING_ROLLBACK_TARGET,
            )
        case RollbackTarget.CORRUPT:
            return Step(Action.UPGRADE, "previous release cannot be verified; upgrading instead")
    return Step(Action.ROLLBACK, "remediating failed release by rollback")


class Outcome(StrEnum):
    CONTINUE = "continue"
    """Determine the state again and take the next step in this reconcile."""
    DONE = "done"
    REQUEUE_BACKOFF = "requeue-backoff"
    REQUEUE_RETRY_INTERVAL = "requeue-retry-interval"
    STALL = "stall"


def after_step(action: Action, failed: bool, ctx: Context) -> Outcome:
    """What the loop does once `action` ran, or failed."""
    active = ctx.active()
    retrying = active is not None and active[0].strategy is Strategy.RETRY_ON_FAILURE
    if failed:
        return Outcome.REQUEUE_RETRY_INTERVAL if retrying else Outcome.REQUEUE_BACKOFF
    if family_of(action) is ActionFamily.REMEDIATE:
        if retrying:
            return Outcome.REQUEUE_RETRY_INTERVAL
        if active is None:
            return Outcome.REQUEUE_BACKOFF
        policy, failures = active
        uninstall_after_upgrade = (
            ctx.last_attempted == "upgrade" and policy.remediation is Remediation.UNINSTALL
        )
        if not policy.exhausted(failures) or uninstall_after_upgrade:
            return Outcome.REQUEUE_BACKOFF
        return Outcome.STALL
    return Outcome.CONTINUE


def may_run(action: Action, done: frozenset[ActionFamily], ctx: Context) -> Outcome:
    """Whether the loop may run `action` now; each family runs once per reconcile."""
    family = family_of(action)
    if family is None or family not in done:
        return Outcome.CONTINUE
    active = ctx.active()
    if active is not None and active[0].strategy is Strategy.RETRY_ON_FAILURE:
        return Outcome.REQUEUE_RETRY_INTERVAL
    if active is None or not active[0].exhausted(active[1]):
        return Outcome.REQUEUE_BACKOFF
    return Outcome.DONE
