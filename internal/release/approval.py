"""The approval gate's decisions. Pure.

A HelmRelease annotated `helmward.io/approval: required` does not change its release on its own:
the controller computes the plan of the action it would run (the rendered diff, summarised as
`+added ~changed -removed`, with a digest), reports it on Ready (reason `AwaitingApproval`), and
runs the action only once `helmward.io/approved` names that plan's digest. Which actions wait is
`helmward.io/approval-scope`: `upgrades` (the default) holds an upgrade that brings a change of
chart, values or post-renderers; `all` also holds installs, remediations (rollback, uninstall),
retried and forced upgrades, and drift correction.

The Ready message is where the pending plan is recorded (the Flux schema has no field for it),
so it has one fixed form that `parse` reads back, for the next reconcile and for
`helmward approve`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from api.helmrelease import Snapshot
from internal.release.actions import Action
from internal.release.state import Desired, ReleaseState, StoredRelease

APPROVAL = "helmward.io/approval"
APPROVED = "helmward.io/approved"
SCOPE = "helmward.io/approval-scope"
REQUIRED = "required"

AWAITING = "AwaitingApproval"
"""Ready's reason while a plan waits, and the Normal event of each new plan."""
APPROVED_REASON = "PlanApproved"
"""The Normal event when an approved plan's action starts."""
REFUSED = "ApprovalRefused"
"""The Warning event when the approval given is not the pending plan's."""
INVALID = "InvalidApproval"
"""Ready and Stalled when an annotation of the gate has a value it does not know."""


class Scope(StrEnum):
    UPGRADES = "upgrades"
    ALL = "all"


ALL_SCOPE_ACTIONS = frozenset(
    {
        Action.INSTALL,
        Action.UPGRADE,
        Action.ROLLBACK,
        Action.UNINSTALL_REMEDIATION,
        Action.CORRECT_DRIFT,
    }
)
"""The actions `approval-scope: all` holds: every one that changes the release's objects.
Tests and unlocking change none, and never wait."""


class InvalidPolicy(ValueError):
    """An annotation of the gate with a value it does not know: nothing runs until it is
    fixed (a typo must not turn the gate off)."""


@dataclass(frozen=True)
class Policy:
    required: bool = False
    scope: Scope = Scope.UPGRADES
    approved: str = ""
    """The digest `helmward.io/approved` names, if any."""


def policy(annotations: Mapping[str, str] | None) -> Policy:
    """The gate the object's annotations ask for; InvalidPolicy on a value it does not know."""
    annotations = annotations or {}
    if APPROVAL not in annotations:
        return Policy()
    value = annotations[APPROVAL]
    if value != REQUIRED:
        raise InvalidPolicy(f"annotation {APPROVAL}: {value!r} is not {REQUIRED!r}")
    scope = annotations.get(SCOPE, Scope.UPGRADES.value)
    if scope not in {s.value for s in Scope}:
        allowed = " or ".join(repr(s.value) for s in Scope)
        raise InvalidPolicy(f"annotation {SCOPE}: {scope!r} is not {allowed}")
    return Policy(True, Scope(scope), annotations.get(APPROVED, "").strip())


def changed_since_release(
    stored: StoredRelease | None, desired: Desired, latest: Snapshot | None
) -> bool:
    """Whether the desired chart or values differ from the newest release in storage: an
    upgrade of a failed release that brings a change, not a retry of the same attempt."""
    if stored is None or latest is None:
        return True
    chart = (stored.chart_name, stored.chart_version)
    return chart != (desired.chart_name, desired.chart_version) or (
        latest.config_digest != desired.config_digest
    )


def gated(policy: Policy, action: Action, state: ReleaseState, changed: bool) -> bool:
    """Whether `action`, chosen for a release in `state`, waits for an approval. `changed`:
    the desired state differs from the newest release (see `changed_since_release`)."""
    if not policy.required:
        return False
    if policy.scope is Scope.ALL:
        return action in ALL_SCOPE_ACTIONS
    if action is not Action.UPGRADE:
        return False
    if state in (ReleaseState.OUT_OF_SYNC, ReleaseState.UNMANAGED):
        return True
    return state is ReleaseState.FAILED and changed


@dataclass(frozen=True)
class Pending:
    """A plan the gate holds: the action, the plan, and what it is for."""

    action: str
    """How messages name the action: 'Helm upgrade', 'drift correction'."""
    digest: str
    summary: str
    subject: str
    """As in Flux's messages: 'release <ns>/<name> with chart <name>@<version>'."""
    command: str
    """The command that approves it: 'helmward approve -n <ns> <name>'."""


@dataclass(frozen=True)
class Recorded:
    """What a Ready message of the gate says: the plan waiting, and an approval it refused."""

    digest: str
    summary: str
    void: str = ""


@dataclass(frozen=True)
class Notice:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Verdict:
    proceed: bool
    message: str = ""
    """Ready's message while the plan waits."""
    events: tuple[Notice, ...] = ()


_PLAN = re.compile(r"awaits approval of plan (?P<digest>\S+) \((?P<summary>[^)]*)\)")
_VOID = re.compile(r"approval (?P<digest>\S+) is void")


def message(pending: Pending, void: str = "") -> str:
    text = (
        f"{_capital(pending.action)} awaits approval of plan {pending.digest} ({pending.summary}) "
        f"for {pending.subject}; approve it with '{pending.command}'"
    )
    if void:
        text += f"; approval {void} is void: it approves another plan"
    return text


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def parse(text: str) -> Recorded | None:
    """The plan a gate's Ready message records; None for any other message."""
    plan = _PLAN.search(text)
    if plan is None:
        return None
    void = _VOID.search(text[plan.end() :])
    return Recorded(plan["digest"], plan["summary"], void["digest"] if void else "")


def decide(policy: Policy, pending: Pending, previous: Recorded | None) -> Verdict:
    """Run the action, or wait. `previous`: the plan the last Ready message recorded. One
    Normal event per new plan; a Warning when an approval given for another plan appears while
    the plan waits; a Normal event when the approved plan runs."""
    if policy.approved == pending.digest:
        text = (
            f"Plan {pending.digest} ({pending.summary}) approved: running {pending.action} "
            f"for {pending.subject}"
        )
        return Verdict(True, events=(Notice("Normal", APPROVED_REASON, text),))
    void = policy.approved
    text = message(pending, void)
    if previous is None or previous.digest != pending.digest:
        return Verdict(False, text, (Notice("Normal", AWAITING, text),))
    if void and void != previous.void:
        refused = (
            f"Approval {void} refused: the plan waiting for approval is {pending.digest} "
            f"({pending.summary}); a newer change voids an older approval"
        )
        return Verdict(False, text, (Notice("Warning", REFUSED, refused),))
    return Verdict(False, text)
