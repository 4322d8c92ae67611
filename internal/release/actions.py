"""Every action of the atomic release loop and its facts, in one table. Pure.

The loop, the action reconcilers, the status and the events all read their facts here: which
family an action belongs to (each family runs at most once per reconcile, as in Flux), the verb
of its messages, the label its history snapshots carry, the condition it reports on, and how a
failure of it is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    TEST = "test"
    UNLOCK = "unlock"
    ROLLBACK = "rollback"
    UNINSTALL_REMEDIATION = "uninstall-remediation"
    CORRECT_DRIFT = "correct-drift"
    WARN_DRIFT = "warn-drift"
    NONE = "none"
    STALL = "stall"


class ActionFamily(StrEnum):
    """Families of actions: each runs at most once per reconcile."""

    RELEASE = "release"
    TEST = "test"
    REMEDIATE = "remediate"
    UNLOCK = "unlock"
    DRIFT = "drift"


class FailureCount(StrEnum):
    """How a failure of the action counts against the failure counters."""

    NONE = "none"
    RELEASE = "release"
    """Counted against the action itself, only when it reached storage (as Flux)."""
    RELEASED_BY = "released-by"
    """Counted against the release action that made the tested release."""
    TOTAL = "total"
    """Only the total `failures`."""


@dataclass(frozen=True)
class ActionSpec:
    family: ActionFamily | None
    """None for the terminal steps, which end the loop."""
    verb: str = ""
    """As in 'Helm <verb> succeeded'; also the reason prefix ('InstallSucceeded')."""
    history_label: str | None = None
    """status.history[].action for the snapshots the action writes."""
    condition: str | None = None
    """The condition the outcome is reported on."""
    failures: FailureCount = FailureCount.NONE
    attempt: str | None = None
    """The status.lastAttemptedReleaseAction it records."""
    waits_healthy: bool = False
    """Followed by the healthCheckExprs when it succeeds."""

    @property
    def title(self) -> str:
        return self.verb.capitalize()


ACTIONS: dict[Action, ActionSpec] = {
    Action.INSTALL: ActionSpec(
        ActionFamily.RELEASE,
        "install",
        "install",
        "Released",
        FailureCount.RELEASE,
        attempt="install",
        waits_healthy=True,
    ),
    Action.UPGRADE: ActionSpec(
        ActionFamily.RELEASE,
        "upgrade",
        "upgrade",
        "Released",
        FailureCount.RELEASE,
        attempt="upgrade",
        waits_healthy=True,
    ),
    Action.TEST: ActionSpec(
        ActionFamily.TEST, "test", None, "TestSuccess", FailureCount.RELEASED_BY
    ),
    Action.ROLLBACK: ActionSpec(
        ActionFamily.REMEDIATE, "rollback", "rollback", "Remediated", FailureCount.TOTAL
    ),
    Action.UNINSTALL_REMEDIATION: ActionSpec(
        ActionFamily.REMEDIATE,
        "uninstall",
        "uninstall-remediation",
        "Remediated",
        FailureCount.TOTAL,
    ),
    Action.UNLOCK: ActionSpec(ActionFamily.UNLOCK, "unlock", None, "Released"),
    Action.CORRECT_DRIFT: ActionSpec(ActionFamily.DRIFT, "correct drift", None, "Drifted"),
    Action.WARN_DRIFT: ActionSpec(None, "report drift", None, "Drifted"),
    Action.NONE: ActionSpec(None),
    Action.STALL: ActionSpec(None, condition="Stalled"),
}


def family_of(action: Action) -> ActionFamily | None:
    return ACTIONS[action].family
