"""Ready summaries and history bookkeeping, row by row."""

from __future__ import annotations

from typing import Any

import pytest

from internal.release import conditions as c
from internal.release import history as h

NOW, LATER = "2026-11-22T00:00:00Z", "2026-11-22T01:00:00Z"


def cond(type_: str, status: str, reason: str = "R", message: str = "m") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def ready_of(conds: list[dict[str, Any]], test_enabled: bool = False, ignore: bool = False) -> Any:
    out = c.summarize(
        conds, test_enabled=test_enabled, ignore_test_failures=ignore, generation=1, now=NOW
    )
    r = c.get(out, c.READY)
    return (r["status"], r["reason"]) if r else None, out


@pytest.mark.parametrize(
    ("conds", "test_enabled", "ignore", "ready"),
    [
        ([], False, False, None),
        (
            [cond("Released", "True", "InstallSucceeded")],
            False,
            False,
            ("True", "InstallSucceeded"),
        ),
        ([cond("Released", "False", "InstallFailed")], False, False, ("False", "InstallFailed")),
        (
            [
                cond("Released", "True", "UpgradeSucceeded"),
                cond("TestSuccess", "False", "TestFailed"),
            ],
            True,
            False,
            ("False", "TestFailed"),
        ),
        (
            [
                cond("Released", "True", "UpgradeSucceeded"),
                cond("TestSuccess", "False", "TestFailed"),
            ],
            True,
            True,
            ("True", "UpgradeSucceeded"),
        ),
        (
            [
                cond("Released", "True", "UpgradeSucceeded"),
                cond("TestSuccess", "True", "TestSucceeded"),
            ],
            True,
            False,
            ("True", "TestSucceeded"),
        ),
        (
            [
                cond("Released", "False", "UpgradeFailed"),
                cond("Remediated", "True", "RollbackSucceeded"),
            ],
            False,
            False,
            ("False", "RollbackSucceeded"),
        ),
        ([cond("Released", "Unknown", "Progressing")], False, False, ("Unknown", "Progressing")),
    ],
)
def test_ready_summary(
    conds: list[dict[str, Any]], test_enabled: bool, ignore: bool, ready: Any
) -> None:
    got, _ = ready_of(conds, test_enabled, ignore)
    assert got == ready


def test_stale_conditions_are_dropped() -> None:
    conds = [
        cond("Released", "True", "UpgradeSucceeded"),
        cond("TestSuccess", "False"),
        cond("Remediated", "True", "RollbackSucceeded"),
    ]
    _, out = ready_of(conds, test_enabled=False)
    types = {x["type"] for x in out}
    assert "TestSuccess" not in types, "tests disabled: no stale TestSuccess"
    assert "Remediated" not in types, "released again: remediation is history"


def test_transition_time_moves_only_on_status_change() -> None:
    one = c.set_condition([], "Ready", "False", "A", "a", generation=1, now=NOW)
    same = c.set_condition(one, "Ready", "False", "B", "b", generation=2, now=LATER)
    assert same[0]["lastTransitionTime"] == NOW
    assert same[0]["reason"] == "B"
    flipped = c.set_condition(same, "Ready", "True", "C", "c", generation=2, now=LATER)
    assert flipped[0]["lastTransitionTime"] == LATER


def snap(version: int, status: str, failed_test: bool = False) -> dict[str, Any]:
    s: dict[str, Any] = {"name": "r", "namespace": "n", "version": version, "status": status}
    if failed_test:
        s["testHooks"] = {"t": {"phase": "Failed"}}
    return s


def versions(snaps: list[dict[str, Any]]) -> list[int]:
    return [s["version"] for s in snaps]


def test_previous_is_the_newest_good_snapshot_after_the_latest() -> None:
    hist = [snap(4, "failed"), snap(3, "failed"), snap(2, "superseded"), snap(1, "superseded")]
    assert h.previous(hist, ignore_tests=False)["version"] == 2  # type: ignore[index]
    tested_bad = [snap(3, "failed"), snap(2, "superseded", failed_test=True), snap(1, "superseded")]
    assert h.previous(tested_bad, ignore_tests=False)["version"] == 1  # type: ignore[index]
    assert h.previous(tested_bad, ignore_tests=True)["version"] == 2  # type: ignore[index]
    assert h.previous([snap(1, "failed")], ignore_tests=False) is None


def test_truncate_keeps_back_to_the_previous_good_one_else_five() -> None:
    hist = [snap(v, "failed") for v in range(9, 2, -1)] + [
        snap(2, "superseded"),
        snap(1, "superseded"),
    ]
    assert versions(h.truncate(hist, ignore_tests=False)) == [9, 8, 7, 6, 5, 4, 3, 2]
    all_failed = [snap(v, "failed") for v in range(1, 9)]
    assert versions(h.truncate(all_failed, ignore_tests=False)) == [8, 7, 6, 5, 4]


def test_observe_prepends_new_versions_and_updates_known_ones() -> None:
    hist = [dict(snap(1, "deployed"), testHooks={"t": {"phase": "Succeeded"}}, action="install")]
    hist = h.observe(hist, snap(2, "pending-upgrade"))
    hist = h.observe(hist, snap(1, "superseded"))
    hist = h.observe(hist, snap(2, "deployed"))
    assert [(s["version"], s["status"]) for s in hist] == [(2, "deployed"), (1, "superseded")]
    assert hist[1]["testHooks"] == {"t": {"phase": "Succeeded"}}
    assert hist[1]["action"] == "install"
