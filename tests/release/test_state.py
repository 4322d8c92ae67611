"""determine_state, row by row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.helmrelease import Snapshot, TestHookStatus
from internal.release.state import (
    Desired,
    Observed,
    ReleaseState,
    State,
    StoredRelease,
    determine_state,
    with_drift,
)

STORED = StoredRelease(
    name="podinfo",
    version=3,
    status="deployed",
    chart_name="podinfo",
    chart_version="6.0.3",
    digest="sha256:aaa",
)
SNAP = Snapshot(
    api_version="v2",
    name="podinfo",
    namespace="default",
    version=3,
    status="deployed",
    digest="sha256:aaa",
    chart_name="podinfo",
    chart_version="6.0.3",
    config_digest="sha256:cfg",
    first_deployed=datetime(2026, 11, 22, tzinfo=UTC),
    last_deployed=datetime(2026, 11, 22, tzinfo=UTC),
)


def with_hooks(**phases: str) -> Snapshot:
    """SNAP with test hooks in these phases."""
    hooks = {name: TestHookStatus(phase=phase) for name, phase in phases.items()}
    return SNAP.model_copy(update={"test_hooks": hooks})


DESIRED = Desired(
    chart_name="podinfo", chart_version="6.0.3", config_digest="sha256:cfg", generation=2
)
OBSERVED = Observed(latest=SNAP, observed_generation=2)

ROWS: list[tuple[str, StoredRelease | None, Desired, Observed, ReleaseState, str]] = [
    ("nothing stored", None, DESIRED, OBSERVED, ReleaseState.ABSENT, "no release in storage"),
    (
        "pending-install",
        replace(STORED, status="pending-install"),
        DESIRED,
        OBSERVED,
        ReleaseState.LOCKED,
        "pending-install",
    ),
    (
        "pending-upgrade, no history",
        replace(STORED, status="pending-upgrade"),
        DESIRED,
        Observed(),
        ReleaseState.LOCKED,
        "pending-upgrade",
    ),
    (
        "pending-rollback",
        replace(STORED, status="pending-rollback"),
        DESIRED,
        OBSERVED,
        ReleaseState.LOCKED,
        "pending-rollback",
    ),
    (
        "stored but no history",
        STORED,
        DESIRED,
        Observed(),
        ReleaseState.UNMANAGED,
        "found existing release",
    ),
    (
        "uninstalled and no history",
        replace(STORED, status="uninstalled"),
        DESIRED,
        Observed(),
        ReleaseState.ABSENT,
        "uninstalled",
    ),
    (
        "digest edited out of band",
        replace(STORED, digest="sha256:bbb"),
        DESIRED,
        OBSERVED,
        ReleaseState.UNMANAGED,
        "digest verification failed",
    ),
    (
        "newer version not observed",
        replace(STORED, version=4),
        DESIRED,
        OBSERVED,
        ReleaseState.UNMANAGED,
        "not observed",
    ),
    (
        "foreign snapshot digests are trusted",
        replace(STORED, digest="sha256:bbb"),
        DESIRED,
        replace(OBSERVED, latest=SNAP.model_copy(update={"api_version": "v2beta2"})),
        ReleaseState.IN_SYNC,
        "",
    ),
    (
        "failed",
        replace(STORED, status="failed"),
        DESIRED,
        OBSERVED,
        ReleaseState.FAILED,
        "failed state",
    ),
    (
        "uninstalled with history",
        replace(STORED, status="uninstalled"),
        DESIRED,
        OBSERVED,
        ReleaseState.ABSENT,
        "uninstalled",
    ),
    (
        "superseded is unknown",
        replace(STORED, status="superseded"),
        DESIRED,
        OBSERVED,
        ReleaseState.UNKNOWN,
        "superseded",
    ),
    (
        "chart version changed",
        STORED,
        replace(DESIRED, chart_version="6.1.0"),
        OBSERVED,
        ReleaseState.OUT_OF_SYNC,
        "chart has changed",
    ),
    (
        "chart name changed",
        STORED,
        replace(DESIRED, chart_name="other"),
        OBSERVED,
        ReleaseState.OUT_OF_SYNC,
        "chart has changed",
    ),
    (
        "values changed",
        STORED,
        replace(DESIRED, config_digest="sha256:new"),
        OBSERVED,
        ReleaseState.OUT_OF_SYNC,
        "values have changed",
    ),
    (
        "post-renderers changed on a new generation",
        STORED,
        replace(DESIRED, generation=3, post_renderers_digest="sha256:pr"),
        OBSERVED,
        ReleaseState.OUT_OF_SYNC,
        "postrenderers",
    ),
    (
        "post-renderers differ on the same generation",
        STORED,
        replace(DESIRED, post_renderers_digest="sha256:pr"),
        OBSERVED,
        ReleaseState.IN_SYNC,
        "",
    ),
    (
        "commonMetadata changed on a new generation",
        STORED,
        replace(DESIRED, generation=3, common_metadata_digest="sha256:cm"),
        OBSERVED,
        ReleaseState.OUT_OF_SYNC,
        "common metadata",
    ),
    (
        "tests enabled, none ran",
        STORED,
        replace(DESIRED, test_enabled=True),
        OBSERVED,
        ReleaseState.UNTESTED,
        "not been tested",
    ),
    (
        "tests enabled, one failed",
        STORED,
        replace(DESIRED, test_enabled=True),
        replace(OBSERVED, latest=with_hooks(t="Failed")),
        ReleaseState.FAILED,
        "test in failed phase",
    ),
    (
        "tests failed but ignored",
        STORED,
        replace(DESIRED, test_enabled=True, ignore_test_failures=True),
        replace(OBSERVED, latest=with_hooks(t="Failed")),
        ReleaseState.IN_SYNC,
        "",
    ),
    (
        "tests failed without an active remediation",
        STORED,
        replace(DESIRED, test_enabled=True, has_active_remediation=False),
        replace(OBSERVED, latest=with_hooks(t="Failed")),
        ReleaseState.IN_SYNC,
        "",
    ),
    (
        "tests still running count as untested",
        STORED,
        replace(DESIRED, test_enabled=True),
        replace(OBSERVED, latest=with_hooks(a="Succeeded", b="Running")),
        ReleaseState.UNTESTED,
        "not been tested",
    ),
    (
        "a chart without tests is tested",
        STORED,
        replace(DESIRED, test_enabled=True),
        replace(OBSERVED, latest=with_hooks()),
        ReleaseState.IN_SYNC,
        "",
    ),
    (
        "tests passed",
        STORED,
        replace(DESIRED, test_enabled=True),
        replace(OBSERVED, latest=with_hooks(t="Succeeded")),
        ReleaseState.IN_SYNC,
        "",
    ),
    ("in sync", STORED, DESIRED, OBSERVED, ReleaseState.IN_SYNC, ""),
]


@pytest.mark.parametrize(
    ("stored", "desired", "observed", "state", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_determine_state(
    stored: StoredRelease | None,
    desired: Desired,
    observed: Observed,
    state: ReleaseState,
    reason: str,
) -> None:
    got = determine_state(stored, desired, observed)
    assert got.state is state
    assert reason in got.reason


def test_in_sync_asks_for_a_drift_check_only_when_enabled() -> None:
    assert not determine_state(STORED, DESIRED, OBSERVED).needs_drift_check
    assert determine_state(
        STORED, replace(DESIRED, drift_detection=True), OBSERVED
    ).needs_drift_check


def test_drift_turns_in_sync_into_drifted_and_nothing_else() -> None:
    in_sync = State(ReleaseState.IN_SYNC)
    assert with_drift(in_sync, True, "1 changed").state is ReleaseState.DRIFTED
    assert with_drift(in_sync, False).state is ReleaseState.IN_SYNC
    failed = State(ReleaseState.FAILED)
    assert with_drift(failed, True).state is ReleaseState.FAILED
