"""determine_state, row by row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from _pytest.mark import ParameterSet

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

RELEASE: dict[str, Any] = {
    "name": "podinfo",
    "version": 3,
    "status": "deployed",
    "digest": "sha256:aaa",
    "chart_name": "podinfo",
    "chart_version": "6.0.3",
}
"""What the stored release and its snapshot agree on."""
STORED = StoredRelease(**RELEASE)
SNAP = Snapshot(
    **RELEASE,
    api_version="v2",
    namespace="default",
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


S = ReleaseState  # short, for the table below


def stored_as(**changes: object) -> StoredRelease:
    return replace(STORED, **changes)  # type: ignore[arg-type]


def status(name: str) -> StoredRelease:
    return replace(STORED, status=name)


def row(
    name: str,
    state: ReleaseState,
    reason: str = "",
    *,
    stored: StoredRelease | None = STORED,
    observed: Observed = OBSERVED,
    **desired: object,
) -> ParameterSet:
    """A case: the stored release, DESIRED with `desired` changed and what was observed give
    `state`, with `reason` in its reason."""
    changed = replace(DESIRED, **desired)  # type: ignore[arg-type]
    return pytest.param(stored, changed, observed, state, reason, id=name)


def with_tests(
    name: str,
    state: ReleaseState,
    reason: str = "",
    hooks: dict[str, str] | None = None,
    **desired: object,
) -> ParameterSet:
    """A case with tests enabled; `hooks` are the phases of the latest snapshot's test hooks
    (None: no hooks recorded)."""
    observed = OBSERVED if hooks is None else replace(OBSERVED, latest=with_hooks(**hooks))
    return row(name, state, reason, observed=observed, test_enabled=True, **desired)


ROWS = [
    row("nothing stored", S.ABSENT, "no release in storage", stored=None),
    row("pending-install", S.LOCKED, "pending-install", stored=status("pending-install")),
    row(
        "pending-upgrade, no history",
        S.LOCKED,
        "pending-upgrade",
        stored=status("pending-upgrade"),
        observed=Observed(),
    ),
    row("pending-rollback", S.LOCKED, "pending-rollback", stored=status("pending-rollback")),
    # An uninstall cut short: Helm can neither upgrade nor install it, so it is unlocked.
    row(
        "uninstalling, no history",
        S.LOCKED,
        "uninstalling",
        stored=status("uninstalling"),
        observed=Observed(),
    ),
    row("uninstalling", S.LOCKED, "uninstalling", stored=status("uninstalling")),
    row("stored but no history", S.UNMANAGED, "found existing release", observed=Observed()),
    row(
        "uninstalled and no history",
        S.ABSENT,
        "uninstalled",
        stored=status("uninstalled"),
        observed=Observed(),
    ),
    row(
        "digest edited out of band",
        S.UNMANAGED,
        "digest verification failed",
        stored=stored_as(digest="sha256:bbb"),
    ),
    row("newer version not observed", S.UNMANAGED, "not observed", stored=stored_as(version=4)),
    row(
        "foreign snapshot digests are trusted",
        S.IN_SYNC,
        stored=stored_as(digest="sha256:bbb"),
        observed=replace(OBSERVED, latest=SNAP.model_copy(update={"api_version": "v2beta2"})),
    ),
    row("failed", S.FAILED, "failed state", stored=status("failed")),
    row("uninstalled with history", S.ABSENT, "uninstalled", stored=status("uninstalled")),
    row("superseded is unknown", S.UNKNOWN, "superseded", stored=status("superseded")),
    row("chart version changed", S.OUT_OF_SYNC, "chart has changed", chart_version="6.1.0"),
    row("chart name changed", S.OUT_OF_SYNC, "chart has changed", chart_name="other"),
    row("values changed", S.OUT_OF_SYNC, "values have changed", config_digest="sha256:new"),
    row(
        "post-renderers changed on a new generation",
        S.OUT_OF_SYNC,
        "postrenderers",
        generation=3,
        post_renderers_digest="sha256:pr",
    ),
    row(
        "post-renderers differ on the same generation", S.IN_SYNC, post_renderers_digest="sha256:pr"
    ),
    row(
        "commonMetadata changed on a new generation",
        S.OUT_OF_SYNC,
        "common metadata",
        generation=3,
        common_metadata_digest="sha256:cm",
    ),
    with_tests("tests enabled, none ran", S.UNTESTED, "not been tested"),
    with_tests("tests enabled, one failed", S.FAILED, "test in failed phase", {"t": "Failed"}),
    with_tests(
        "tests failed but ignored", S.IN_SYNC, "", {"t": "Failed"}, ignore_test_failures=True
    ),
    with_tests(
        "tests failed without an active remediation",
        S.IN_SYNC,
        "",
        {"t": "Failed"},
        has_active_remediation=False,
    ),
    with_tests(
        "tests still running count as untested",
        S.UNTESTED,
        "not been tested",
        {"a": "Succeeded", "b": "Running"},
    ),
    with_tests("a chart without tests is tested", S.IN_SYNC, "", {}),
    with_tests("tests passed", S.IN_SYNC, "", {"t": "Succeeded"}),
    row("in sync", S.IN_SYNC),
]


@pytest.mark.parametrize(
    ("stored", "desired", "observed", "state", "reason"),
    ROWS,
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
    in_sync = State(S.IN_SYNC)
    assert with_drift(in_sync, True, "1 changed").state is S.DRIFTED
    assert with_drift(in_sync, False).state is S.IN_SYNC
    failed = State(S.FAILED)
    assert with_drift(failed, True).state is S.FAILED
