"""next_step, after_step and may_run, row by row."""

from __future__ import annotations

from dataclasses import replace

import pytest
from _pytest.mark import ParameterSet

from internal.release.plan import (
    Action,
    ActionFamily,
    Context,
    Outcome,
    Policy,
    Remediation,
    RollbackTarget,
    StallReason,
    Step,
    Strategy,
    after_step,
    may_run,
    next_step,
)
from internal.release.state import ReleaseState as S

A = Action  # short, for the tables below
EXCEEDED = StallReason.RETRIES_EXCEEDED
NO_TARGET = StallReason.MISSING_ROLLBACK_TARGET
BASE = Context()
RETRY = Policy(strategy=Strategy.RETRY_ON_FAILURE)
UPGRADE_2 = Policy(retries=2, remediate_last_failure=True, remediation=Remediation.ROLLBACK)
UNINSTALL_UPGRADE = Policy(retries=1, remediation=Remediation.UNINSTALL)
AFTER_UPGRADE = replace(BASE, last_attempted="upgrade", upgrade_failures=1)
AFTER_INSTALL = replace(BASE, last_attempted="install", install_failures=1)


def step(
    name: str,
    state: S,
    action: Action,
    stall: StallReason | None = None,
    *,
    start: Context = BASE,
    **changes: object,
) -> ParameterSet:
    """A case: in `state`, the context `start` with `changes` gives `action` (and `stall`)."""
    ctx = replace(start, **changes)  # type: ignore[arg-type]
    return pytest.param(state, ctx, action, stall, id=name)


def failed(
    name: str,
    action: Action,
    stall: StallReason | None = None,
    *,
    start: Context = AFTER_UPGRADE,
    **changes: object,
) -> ParameterSet:
    """A case in the Failed state, after a failed upgrade unless `start` says otherwise."""
    return step(name, S.FAILED, action, stall, start=start, **changes)


def exhausted(label: str, state: S, action: Action) -> list[ParameterSet]:
    """No retries left stalls the release action, unless forced: one rule for install and
    upgrade."""
    failures = {f"{action.value}_failures": 1}
    return [
        step(f"{label}, {action.value} retries exhausted", state, A.STALL, EXCEEDED, **failures),
        step(f"{label}, exhausted but forced", state, action, force_requested=True, **failures),
    ]


def after(
    name: str,
    action: Action,
    failed: bool,
    outcome: Outcome,
    *,
    start: Context = BASE,
    **changes: object,
) -> ParameterSet:
    """A case: `action`, failed or not, in the context `start` with `changes`, is `outcome`."""
    ctx = replace(start, **changes)  # type: ignore[arg-type]
    return pytest.param(action, failed, ctx, outcome, id=name)


ROWS = [
    # InSync
    step("in sync", S.IN_SYNC, A.NONE),
    step("in sync, forced", S.IN_SYNC, A.UPGRADE, force_requested=True),
    # Locked
    step("locked", S.LOCKED, A.UNLOCK),
    # Absent
    step("absent", S.ABSENT, A.INSTALL),
    step(
        "absent, install retries left",
        S.ABSENT,
        A.INSTALL,
        install=Policy(retries=3),
        install_failures=3,
    ),
    *exhausted("absent", S.ABSENT, A.INSTALL),
    step(
        "absent, unlimited retries",
        S.ABSENT,
        A.INSTALL,
        install=Policy(retries=-1),
        install_failures=99,
    ),
    # Unmanaged
    step("unmanaged", S.UNMANAGED, A.UPGRADE),
    # OutOfSync
    step("out of sync", S.OUT_OF_SYNC, A.UPGRADE),
    *exhausted("out of sync", S.OUT_OF_SYNC, A.UPGRADE),
    # Untested
    step("untested", S.UNTESTED, A.TEST),
    # Drifted
    step("drifted, mode enabled", S.DRIFTED, A.CORRECT_DRIFT, drift_correct=True),
    step("drifted, mode warn", S.DRIFTED, A.WARN_DRIFT),
    # Failed
    failed("failed, nothing attempted yet", A.UPGRADE, start=BASE),
    failed("failed, RetryOnFailure", A.UPGRADE, upgrade=RETRY, upgrade_failures=5),
    failed("failed, counters reset by a change", A.UPGRADE, upgrade_failures=0),
    failed("failed, forced", A.UPGRADE, force_requested=True),
    failed("failed upgrade, retries=0, no remediateLastFailure", A.STALL, EXCEEDED),
    failed("failed upgrade, retries left: rollback", A.ROLLBACK, upgrade=UPGRADE_2),
    failed(
        "failed upgrade, exhausted, remediateLastFailure: rollback",
        A.ROLLBACK,
        upgrade=UPGRADE_2,
        upgrade_failures=3,
    ),
    failed(
        "failed upgrade, rollback target missing",
        A.STALL,
        NO_TARGET,
        upgrade=UPGRADE_2,
        rollback_target=RollbackTarget.MISSING,
    ),
    failed(
        "failed upgrade, rollback target corrupt",
        A.UPGRADE,
        upgrade=UPGRADE_2,
        rollback_target=RollbackTarget.CORRUPT,
    ),
    failed(
        "failed upgrade, strategy uninstall", A.UNINSTALL_REMEDIATION, upgrade=UNINSTALL_UPGRADE
    ),
    failed(
        "failed install, retries left: uninstall",
        A.UNINSTALL_REMEDIATION,
        start=AFTER_INSTALL,
        install=Policy(retries=2),
    ),
    failed("failed install, retries exhausted", A.STALL, EXCEEDED, start=AFTER_INSTALL),
    failed(
        "failed install, exhausted, remediateLastFailure",
        A.UNINSTALL_REMEDIATION,
        start=AFTER_INSTALL,
        install=Policy(remediate_last_failure=True),
    ),
]


@pytest.mark.parametrize(("state", "ctx", "action", "stall"), ROWS)
def test_next_step(state: S, ctx: Context, action: Action, stall: StallReason | None) -> None:
    step = next_step(state, ctx)
    assert step.action is action
    assert step.stall is stall
    assert step.reason


def test_unmanaged_clears_history() -> None:
    assert next_step(S.UNMANAGED, BASE) == Step(
        Action.UPGRADE, "release not managed by controller", clear_history=True
    )


def test_unknown_state_has_no_step() -> None:
    with pytest.raises(ValueError, match="Unknown"):
        next_step(S.UNKNOWN, BASE)


AFTER = [
    after("install ok: look again", A.INSTALL, False, Outcome.CONTINUE),
    after("test ok: look again", A.TEST, False, Outcome.CONTINUE),
    after("failed action: backoff", A.UPGRADE, True, Outcome.REQUEUE_BACKOFF, start=AFTER_UPGRADE),
    after(
        "failed action under RetryOnFailure: retry interval",
        A.UPGRADE,
        True,
        Outcome.REQUEUE_RETRY_INTERVAL,
        start=AFTER_UPGRADE,
        upgrade=RETRY,
    ),
    after(
        "rollback with retries left: backoff",
        A.ROLLBACK,
        False,
        Outcome.REQUEUE_BACKOFF,
        start=AFTER_UPGRADE,
        upgrade=UPGRADE_2,
    ),
    after(
        "rollback of the last failure: stall",
        A.ROLLBACK,
        False,
        Outcome.STALL,
        start=AFTER_UPGRADE,
        upgrade=UPGRADE_2,
        upgrade_failures=3,
    ),
    after(
        "uninstall after upgrade always requeues to reinstall",
        A.UNINSTALL_REMEDIATION,
        False,
        Outcome.REQUEUE_BACKOFF,
        start=AFTER_UPGRADE,
        upgrade=UNINSTALL_UPGRADE,
        upgrade_failures=2,
    ),
    after(
        "uninstall after install, exhausted: stall",
        A.UNINSTALL_REMEDIATION,
        False,
        Outcome.STALL,
        start=AFTER_INSTALL,
        install=Policy(remediate_last_failure=True),
    ),
]


@pytest.mark.parametrize(("action", "failed", "ctx", "outcome"), AFTER)
def test_after_step(action: Action, failed: bool, ctx: Context, outcome: Outcome) -> None:
    assert after_step(action, failed, ctx) is outcome


def test_each_kind_runs_once_per_reconcile() -> None:
    assert may_run(Action.UPGRADE, frozenset(), AFTER_UPGRADE) is Outcome.CONTINUE
    assert (
        may_run(Action.TEST, frozenset({ActionFamily.RELEASE}), AFTER_UPGRADE) is Outcome.CONTINUE
    )
    # A second release action in one reconcile waits for the next one.
    ctx = replace(AFTER_UPGRADE, upgrade=UPGRADE_2)
    assert (
        may_run(Action.UPGRADE, frozenset({ActionFamily.RELEASE}), ctx) is Outcome.REQUEUE_BACKOFF
    )
    retry = replace(AFTER_UPGRADE, upgrade=RETRY)
    assert (
        may_run(Action.UPGRADE, frozenset({ActionFamily.RELEASE}), retry)
        is Outcome.REQUEUE_RETRY_INTERVAL
    )
    exhausted = replace(AFTER_UPGRADE, upgrade_failures=5)
    assert may_run(Action.UPGRADE, frozenset({ActionFamily.RELEASE}), exhausted) is Outcome.DONE


def test_an_install_starts_the_history_afresh() -> None:
    assert next_step(S.ABSENT, BASE).clear_history
    forced = replace(AFTER_INSTALL, force_requested=True)
    assert next_step(S.ABSENT, forced).clear_history
    assert not next_step(S.OUT_OF_SYNC, BASE).clear_history
