"""Ready summaries and history bookkeeping, row by row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api import conditions as ac
from api.helmrelease import HelmReleaseStatus, Snapshot, TestHookStatus
from api.meta import Condition, ConditionStatus
from internal.release import conditions as c
from internal.release import history as h

NOW = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def cond(type_: str, status: str, reason: str = "R", message: str = "m") -> Condition:
    return Condition(
        type=type_,
        status=ConditionStatus(status),
        reason=reason,
        message=message,
        last_transition_time=NOW,
    )


def ready_of(conds: list[Condition], test_enabled: bool = False, ignore: bool = False) -> Any:
    out = c.summarize(
        conds, test_enabled=test_enabled, ignore_test_failures=ignore, generation=1, at=NOW
    )
    r = ac.get(out, c.READY)
    return (r.status.value, r.reason) if r else None, out


def case(*conds: str, tests: bool = False, ignore: bool = False, ready: str = "") -> Any:
    """Conditions written `Type=Status:Reason`, and the Ready they sum up to, `Status:Reason`
    (empty: no Ready)."""
    parsed = []
    for text in conds:
        type_, _, rest = text.partition("=")
        status, _, reason = rest.partition(":")
        parsed.append(cond(type_, status, reason))
    want = tuple(ready.split(":")) if ready else None
    return pytest.param(parsed, tests, ignore, want, id=" ".join(conds) or "none")


@pytest.mark.parametrize(
    ("conds", "test_enabled", "ignore", "ready"),
    [
        case(),
        case("Released=True:InstallSucceeded", ready="True:InstallSucceeded"),
        case("Released=False:InstallFailed", ready="False:InstallFailed"),
        case(
            "Released=True:UpgradeSucceeded",
            "TestSuccess=False:TestFailed",
            tests=True,
            ready="False:TestFailed",
        ),
        case(
            "Released=True:UpgradeSucceeded",
            "TestSuccess=False:TestFailed",
            tests=True,
            ignore=True,
            ready="True:UpgradeSucceeded",
        ),
        case(
            "Released=True:UpgradeSucceeded",
            "TestSuccess=True:TestSucceeded",
            tests=True,
            ready="True:TestSucceeded",
        ),
        case(
            "Released=False:UpgradeFailed",
            "Remediated=True:RollbackSucceeded",
            ready="False:RollbackSucceeded",
        ),
        case("Released=Unknown:Progressing", ready="Unknown:Progressing"),
    ],
)
def test_ready_summary(
    conds: list[Condition], test_enabled: bool, ignore: bool, ready: Any
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
    types = {x.type for x in out}
    assert "TestSuccess" not in types, "tests disabled: no stale TestSuccess"
    assert "Remediated" not in types, "released again: remediation is history"


def test_transition_time_moves_only_on_status_change() -> None:
    one = c.set_condition([], "Ready", "False", "A", "a", generation=1, at=NOW)
    same = c.set_condition(one, "Ready", "False", "B", "b", generation=2, at=LATER)
    assert same[0].last_transition_time == NOW
    assert same[0].reason == "B"
    flipped = c.set_condition(same, "Ready", "True", "C", "c", generation=2, at=LATER)
    assert flipped[0].last_transition_time == LATER


def test_conditions_keep_flux_order() -> None:
    out = c.set_condition([], "Released", "True", "A", "a", generation=1, at=NOW)
    out = c.set_condition(out, "Reconciling", "True", "B", "b", generation=1, at=NOW)
    out = c.set_condition(out, "Ready", "True", "C", "c", generation=1, at=NOW)
    assert [x.type for x in out] == ["Ready", "Reconciling", "Released"]


def snap(version: int, status: str, failed_test: bool = False, **extra: Any) -> Snapshot:
    hooks = {"t": TestHookStatus(phase="Failed")} if failed_test else None
    return Snapshot(
        api_version="v2",
        digest=f"sha256:{version}",
        name="r",
        namespace="n",
        version=version,
        status=status,
        chart_name="c",
        chart_version="1.0.0",
        config_digest="sha256:cfg",
        first_deployed=NOW,
        last_deployed=NOW,
        test_hooks=hooks,
        **extra,
    )


def previous(history: list[Snapshot], ignore_tests: bool) -> int | None:
    prev = HelmReleaseStatus(history=history).previous(ignore_tests)
    return prev.version if prev else None


def test_previous_is_the_newest_good_snapshot_after_the_latest() -> None:
    hist = [snap(4, "failed"), snap(3, "failed"), snap(2, "superseded"), snap(1, "superseded")]
    assert previous(hist, ignore_tests=False) == 2
    tested_bad = [snap(3, "failed"), snap(2, "superseded", failed_test=True), snap(1, "superseded")]
    assert previous(tested_bad, ignore_tests=False) == 1
    assert previous(tested_bad, ignore_tests=True) == 2
    assert previous([snap(1, "failed")], ignore_tests=False) is None


def test_bounded_keeps_max_history_and_never_fewer_than_two() -> None:
    hist = [snap(v, "superseded") for v in range(9, 0, -1)]
    assert [s.version for s in h.bounded(hist, 3)] == [9, 8, 7]
    assert [s.version for s in h.bounded(hist, 1)] == [9, 8]
    assert [s.version for s in h.bounded(hist, 0)] == [9, 8, 7, 6, 5], "0: the default five"


def test_observe_prepends_new_versions_and_updates_known_ones() -> None:
    first = snap(1, "deployed", action="install").model_copy(
        update={"test_hooks": {"t": TestHookStatus(phase="Succeeded")}}
    )
    hist = h.observe([first], snap(2, "pending-upgrade"))
    hist = h.observe(hist, snap(1, "superseded"))
    hist = h.observe(hist, snap(2, "deployed"))
    assert [(s.version, s.status) for s in hist] == [(2, "deployed"), (1, "superseded")]
    assert hist[1].test_hooks == {"t": TestHookStatus(phase="Succeeded")}
    assert hist[1].action == "install"
