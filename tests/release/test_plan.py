"""next_step, after_step and may_run, row by row."""

from __future__ import annotations

from dataclasses import replace

import pytest

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

BASE = Context()
RETRY = Policy(strategy=Strategy.RETRY_ON_FAILURE)
UPGRADE_2 = Policy(retries=2, remediate_last_failure=True, remediation=Remediation.ROLLBACK)
UNINSTALL_UPGRADE = Policy(retries=1, remediation=Remediation.UNINSTALL)
AFTER_UPGRADE = replace(BASE, last_attempted="upgrade", upgrade_failures=1)
AFTER_INSTALL = replace(BASE, last_attempted="install", install_failures=1)

ROWS: list[tuple[str, S, Context, Action, StallReason | None]] = [
    # InSync
    ("in sync", S.IN_SYNC, BASE, Action.NONE, None),
    ("in sync, forced", S.IN_SYNC, replace(BASE, force_requested=True), Action.UPGRADE, None),
    # Locked
    ("locked", S.LOCKED, BASE, Action.UNLOCK, None),
    # Absent
    ("absent", S.ABSENT, BASE, Action.INSTALL, None),
    (
        "absent, install retries left",
        S.ABSENT,
        replace(BASE, install=Policy(retries=3), install_failures=3),
        Action.INSTALL,
        None,
    ),
    (
        "absent, install retries exhausted",
        S.ABSENT,
        replace(BASE, install_failures=1),
        Action.STALL,
        StallReason.RETRIES_EXCEEDED,
    ),
    (
        "absent, exhausted but forced",
        S.ABSENT,
        replace(BASE, install_failures=1, force_requested=True),
        Action.INSTALL,
        None,
    ),
    (
        "absent, unlimited retries",
        S.ABSENT,
        replace(BASE, install=Policy(retries=-1), install_failures=99),
        Action.INSTALL,
        None,
    ),
    # Unmanaged
    ("unmanaged", S.UNMANAGED, BASE, Action.UPGRADE, None),
    # OutOfSync
    ("out of sync", S.OUT_OF_SYNC, BASE, Action.UPGRADE, None),
    (
        "out of sync, upgrade retries exhausted",
        S.OUT_OF_SYNC,
        replace(BASE, upgrade_failures=1),
        Action.STALL,
        StallReason.RETRIES_EXCEEDED,
    ),
    (
        "out of sync, exhausted but forced",
        S.OUT_OF_SYNC,
        replace(BASE, upgrade_failures=1, force_requested=True),
        Action.UPGRADE,
        None,
    ),
    # Untested
    ("untested", S.UNTESTED, BASE, Action.TEST, None),
    # Drifted
    (
        "drifted, mode enabled",
        S.DRIFTED,
        replace(BASE, drift_correct=True),
        Action.CORRECT_DRIFT,
        None,
    ),
    ("drifted, mode warn", S.DRIFTED, BASE, Action.WARN_DRIFT, None),
    # Failed
    ("failed, nothing attempted yet", S.FAILED, BASE, Action.UPGRADE, None),
    (
        "failed, RetryOnFailure",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=RETRY, upgrade_failures=5),
        Action.UPGRADE,
        None,
    ),
    (
        "failed, counters reset by a change",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade_failures=0),
        Action.UPGRADE,
        None,
    ),
    (
        "failed, forced",
        S.FAILED,
        replace(AFTER_UPGRADE, force_requested=True),
        Action.UPGRADE,
        None,
    ),
    (
        "failed upgrade, retries=0, no remediateLastFailure",
        S.FAILED,
        AFTER_UPGRADE,
        Action.STALL,
        StallReason.RETRIES_EXCEEDED,
    ),
    (
        "failed upgrade, retries left: rollback",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2),
        Action.ROLLBACK,
        None,
    ),
    (
        "failed upgrade, exhausted, remediateLastFailure: rollback",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2, upgrade_failures=3),
        Action.ROLLBACK,
        None,
    ),
    (
        "failed upgrade, rollback target missing",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2, rollback_target=RollbackTarget.MISSING),
        Action.STALL,
        StallReason.MISSING_ROLLBACK_TARGET,
    ),
    (
        "failed upgrade, rollback target corrupt",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2, rollback_target=RollbackTarget.CORRUPT),
        Action.UPGRADE,
        None,
    ),
    (
        "failed upgrade, strategy uninstall",
        S.FAILED,
        replace(AFTER_UPGRADE, upgrade=UNINSTALL_UPGRADE),
        Action.UNINSTALL_REMEDIATION,
        None,
    ),
    (
        "failed install, retries left: uninstall",
        S.FAILED,
        replace(AFTER_INSTALL, install=Policy(retries=2)),
        Action.UNINSTALL_REMEDIATION,
        None,
    ),
    (
        "failed install, retries exhausted",
        S.FAILED,
        AFTER_INSTALL,
        Action.STALL,
        StallReason.RETRIES_EXCEEDED,
    ),
    (
        "failed install, exhausted, remediateLastFailure",
        S.FAILED,
        replace(AFTER_INSTALL, install=Policy(remediate_last_failure=True)),
        Action.UNINSTALL_REMEDIATION,
        None,
    ),
]


@pytest.mark.parametrize(
    ("state", "ctx", "action", "stall"), [pytest.param(*r[1:], id=r[0]) for r in ROWS]
)
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


AFTER: list[tuple[str, Action, bool, Context, Outcome]] = [
    ("install ok: look again", Action.INSTALL, False, BASE, Outcome.CONTINUE),
    ("test ok: look again", Action.TEST, False, BASE, Outcome.CONTINUE),
    ("failed action: backoff", Action.UPGRADE, True, AFTER_UPGRADE, Outcome.REQUEUE_BACKOFF),
    (
        "failed action under RetryOnFailure: retry interval",
        Action.UPGRADE,
        True,
        replace(AFTER_UPGRADE, upgrade=RETRY),
        Outcome.REQUEUE_RETRY_INTERVAL,
    ),
    (
        "rollback with retries left: backoff",
        Action.ROLLBACK,
        False,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2),
        Outcome.REQUEUE_BACKOFF,
    ),
    (
        "rollback of the last failure: stall",
        Action.ROLLBACK,
        False,
        replace(AFTER_UPGRADE, upgrade=UPGRADE_2, upgrade_failures=3),
        Outcome.STALL,
    ),
    (
        "uninstall after upgrade always requeues to reinstall",
        Action.UNINSTALL_REMEDIATION,
        False,
        replace(AFTER_UPGRADE, upgrade=UNINSTALL_UPGRADE, upgrade_failures=2),
        Outcome.REQUEUE_BACKOFF,
    ),
    (
        "uninstall after install, exhausted: stall",
        Action.UNINSTALL_REMEDIATION,
        False,
        replace(AFTER_INSTALL, install=Policy(remediate_last_failure=True)),
        Outcome.STALL,
    ),
]


@pytest.mark.parametrize(
    ("action", "failed", "ctx", "outcome"), [pytest.param(*r[1:], id=r[0]) for r in AFTER]
)
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
