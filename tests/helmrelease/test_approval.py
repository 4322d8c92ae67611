"""The approval gate's pure decisions: the annotations read, which actions wait in which scope,
the Ready message and its parse, and the events of each decision."""

from __future__ import annotations

import pytest

from api.helmrelease import Snapshot
from internal.release import approval
from internal.release.actions import Action
from internal.release.approval import Pending, Policy, Recorded, Scope
from internal.release.state import Desired, ReleaseState, StoredRelease

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
PENDING = Pending(
    "Helm upgrade",
    B,
    "+0 ~1 -0",
    "release apps/app with chart app@1.1.0",
    "helmward approve -n apps app",
)
MESSAGE = (
    f"Helm upgrade awaits approval of plan {B} (+0 ~1 -0) for release apps/app with chart "
    "app@1.1.0; approve it with 'helmward approve -n apps app'"
)


def test_no_annotation_no_gate() -> None:
    assert approval.policy(None) == Policy()
    assert approval.policy({approval.APPROVED: A}) == Policy(), "an approval alone turns nothing on"


def test_the_annotations_are_read() -> None:
    got = approval.policy(
        {approval.APPROVAL: "required", approval.SCOPE: "all", approval.APPROVED: f" {A} "}
    )
    assert got == Policy(True, Scope.ALL, A)
    assert approval.policy({approval.APPROVAL: "required"}).scope is Scope.UPGRADES


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({approval.APPROVAL: "yes"}, "annotation helmward.io/approval: 'yes' is not 'required'"),
        ({approval.APPROVAL: ""}, "annotation helmward.io/approval: '' is not 'required'"),
        (
            {approval.APPROVAL: "required", approval.SCOPE: "upgrade"},
            "annotation helmward.io/approval-scope: 'upgrade' is not 'upgrades' or 'all'",
        ),
    ],
)
def test_an_unknown_value_is_refused_not_ignored(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(approval.InvalidPolicy) as exc:
        approval.policy(annotations)
    assert str(exc.value) == message


UPGRADES, ALL = Policy(True, Scope.UPGRADES), Policy(True, Scope.ALL)


@pytest.mark.parametrize(
    ("action", "state", "changed", "upgrades", "all_"),
    [
        (Action.UPGRADE, ReleaseState.OUT_OF_SYNC, True, True, True),
        (Action.UPGRADE, ReleaseState.UNMANAGED, True, True, True),
        (Action.UPGRADE, ReleaseState.FAILED, True, True, True),
        (Action.UPGRADE, ReleaseState.FAILED, False, False, True),  # a retry of the attempt
        (Action.UPGRADE, ReleaseState.IN_SYNC, False, False, True),  # forced
        (Action.INSTALL, ReleaseState.ABSENT, True, False, True),
        (Action.ROLLBACK, ReleaseState.FAILED, False, False, True),
        (Action.UNINSTALL_REMEDIATION, ReleaseState.FAILED, False, False, True),
        (Action.CORRECT_DRIFT, ReleaseState.DRIFTED, False, False, True),
        (Action.TEST, ReleaseState.UNTESTED, False, False, False),
        (Action.UNLOCK, ReleaseState.LOCKED, False, False, False),
    ],
)
def test_what_each_scope_holds(
    action: Action, state: ReleaseState, changed: bool, upgrades: bool, all_: bool
) -> None:
    assert approval.gated(UPGRADES, action, state, changed) is upgrades
    assert approval.gated(ALL, action, state, changed) is all_
    assert approval.gated(Policy(), action, state, changed) is False


def test_a_failed_release_is_changed_when_chart_or_values_move() -> None:
    stored = StoredRelease("app", 2, "failed", "app", "1.1.0", "d")
    latest = Snapshot.model_validate(
        {
            "name": "app",
            "namespace": "apps",
            "version": 2,
            "status": "failed",
            "chartName": "app",
            "chartVersion": "1.1.0",
            "configDigest": "sha256:c1",
            "digest": "d",
            "firstDeployed": "2024-01-01T00:00:00Z",
            "lastDeployed": "2024-01-01T00:00:00Z",
        }
    )
    same = Desired("app", "1.1.0", "sha256:c1", 3)
    assert not approval.changed_since_release(stored, same, latest)
    assert approval.changed_since_release(stored, Desired("app", "1.2.0", "sha256:c1", 3), latest)
    assert approval.changed_since_release(stored, Desired("app", "1.1.0", "sha256:c2", 3), latest)
    assert approval.changed_since_release(None, same, None)


def test_the_message_names_the_plan_and_reads_back() -> None:
    assert approval.message(PENDING) == MESSAGE
    assert approval.parse(MESSAGE) == Recorded(B, "+0 ~1 -0")
    void = approval.message(PENDING, A)
    assert void == f"{MESSAGE}; approval {A} is void: it approves another plan"
    assert approval.parse(void) == Recorded(B, "+0 ~1 -0", A)
    assert approval.parse("Helm upgrade succeeded for release apps/app") is None


def test_a_new_plan_waits_with_one_normal_event() -> None:
    verdict = approval.decide(UPGRADES, PENDING, None)
    assert verdict == approval.Verdict(
        False, MESSAGE, (approval.Notice("Normal", "AwaitingApproval", MESSAGE),)
    )


def test_the_same_plan_waits_without_another_event() -> None:
    verdict = approval.decide(UPGRADES, PENDING, Recorded(B, "+0 ~1 -0"))
    assert verdict == approval.Verdict(False, MESSAGE)


def test_an_older_plan_recorded_means_a_new_plan() -> None:
    verdict = approval.decide(UPGRADES, PENDING, Recorded(A, "+1 ~0 -0"))
    assert [n.reason for n in verdict.events] == ["AwaitingApproval"]


def test_an_approval_of_another_plan_is_refused_once() -> None:
    stale = Policy(True, Scope.UPGRADES, A)
    verdict = approval.decide(stale, PENDING, Recorded(B, "+0 ~1 -0"))
    assert not verdict.proceed
    assert verdict.message.endswith(f"; approval {A} is void: it approves another plan")
    assert verdict.events == (
        approval.Notice(
            "Warning",
            "ApprovalRefused",
            f"Approval {A} refused: the plan waiting for approval is {B} (+0 ~1 -0); "
            "a newer change voids an older approval",
        ),
    )
    again = approval.decide(stale, PENDING, approval.parse(verdict.message))
    assert again == approval.Verdict(False, verdict.message), "refused once, not per reconcile"


def test_a_new_plan_with_an_older_approval_says_it_is_void_in_its_one_event() -> None:
    verdict = approval.decide(Policy(True, Scope.UPGRADES, A), PENDING, None)
    assert [(n.type, n.reason) for n in verdict.events] == [("Normal", "AwaitingApproval")]
    assert f"approval {A} is void" in verdict.events[0].message


def test_the_approved_plan_runs() -> None:
    verdict = approval.decide(Policy(True, Scope.UPGRADES, B), PENDING, Recorded(B, "+0 ~1 -0"))
    assert verdict == approval.Verdict(
        True,
        events=(
            approval.Notice(
                "Normal",
                "PlanApproved",
                f"Plan {B} (+0 ~1 -0) approved: running Helm upgrade for release apps/app "
                "with chart app@1.1.0",
            ),
        ),
    )


def test_a_drift_correction_is_named_in_the_message() -> None:
    drift = Pending("drift correction", B, "+1 ~0 -0", "release apps/app with chart a@1", "c")
    assert approval.message(drift).startswith("Drift correction awaits approval of plan")
