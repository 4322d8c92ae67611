"""Which state a release is in, compared with what its HelmRelease asks for.

A pure function of the last release in Helm storage, the newest history snapshot the controller
recorded, and the desired chart and values. Mirrors the order of checks in Flux's
`internal/reconcile/state.go`, so the same objects reach the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from api.helmrelease import Snapshot

PENDING_STATUSES = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})
# An uninstall cut short (a crash, an OOM) leaves its record `uninstalling`. Helm's upgrade
# refuses it ("has no deployed releases") and its install refuses the name, so it is unlocked
# like a pending action: marked failed, then remediated or upgraded. Flux treats it as
# Unmanaged and upgrades forever (fluxcd/flux2#4614).
LOCKED_STATUSES = PENDING_STATUSES | {"uninstalling"}


class ReleaseState(StrEnum):
    ABSENT = "Absent"
    LOCKED = "Locked"
    UNMANAGED = "Unmanaged"
    OUT_OF_SYNC = "OutOfSync"
    UNTESTED = "Untested"
    FAILED = "Failed"
    DRIFTED = "Drifted"
    IN_SYNC = "InSync"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class StoredRelease:
    """The last release in Helm storage, as the engine reports it."""

    name: str
    version: int
    status: str
    chart_name: str
    chart_version: str
    digest: str
    """sha256 of the release's canonical observation, as recorded in snapshots."""


@dataclass(frozen=True)
class Desired:
    """What the HelmRelease asks for in this reconcile."""

    chart_name: str
    chart_version: str
    config_digest: str
    generation: int
    post_renderers_digest: str = ""
    common_metadata_digest: str = ""
    test_enabled: bool = False
    ignore_test_failures: bool = False
    """The active remediation's view of test failures (its own setting, or test.ignoreFailures)."""
    has_active_remediation: bool = True
    drift_detection: bool = False


@dataclass(frozen=True)
class Observed:
    """What the controller recorded on the status at its last reconcile."""

    latest: Snapshot | None = None
    observed_generation: int | None = None
    post_renderers_digest: str = ""
    common_metadata_digest: str = ""


@dataclass(frozen=True)
class State:
    state: ReleaseState
    reason: str = ""
    needs_drift_check: bool = field(default=False, compare=False)


def determine_state(stored: StoredRelease | None, desired: Desired, observed: Observed) -> State:
    """Classify the release. InSync may still turn Drifted: see `needs_drift_check`."""
    if stored is None:
        return State(ReleaseState.ABSENT, "no release in storage for object")
    if stored.status in LOCKED_STATUSES:
        return State(ReleaseState.LOCKED, f"release with status '{stored.status}'")

    cur = observed.latest
    if cur is None:
        if stored.status == "uninstalled":
            return State(ReleaseState.ABSENT, "found uninstalled release in storage")
        return State(ReleaseState.UNMANAGED, "found existing release in storage")

    mismatch = _verify_snapshot(cur, stored)
    if mismatch:
        return State(ReleaseState.UNMANAGED, mismatch)

    if stored.status == "failed":
        return State(ReleaseState.FAILED, "release is in a failed state")
    if stored.status == "uninstalled":
        return State(ReleaseState.ABSENT, "found uninstalled release in storage")
    if stored.status != "deployed":
        return State(
            ReleaseState.UNKNOWN, f"unable to determine state for status '{stored.status}'"
        )

    if (stored.chart_name, stored.chart_version) != (desired.chart_name, desired.chart_version):
        return State(ReleaseState.OUT_OF_SYNC, "release chart has changed")
    if cur.config_digest != desired.config_digest:
        return State(ReleaseState.OUT_OF_SYNC, "release values have changed")

    # Post-renderer and commonMetadata digests only count on a new generation: they are recorded
    # after each successful action, so comparing them within one reconcile would loop.
    if observed.observed_generation != desired.generation:
        if desired.post_renderers_digest != observed.post_renderers_digest:
            return State(ReleaseState.OUT_OF_SYNC, "postrenderers digest has changed")
        if desired.common_metadata_digest != observed.common_metadata_digest:
            return State(ReleaseState.OUT_OF_SYNC, "common metadata digest has changed")

    if desired.test_enabled:
        if not cur.has_been_tested():
            return State(ReleaseState.UNTESTED, "release has not been tested")
        if (
            desired.has_active_remediation
            and not desired.ignore_test_failures
            and cur.has_test_in_phase("Failed")
        ):
            return State(ReleaseState.FAILED, "release has test in failed phase")

    return State(ReleaseState.IN_SYNC, needs_drift_check=desired.drift_detection)


def with_drift(state: State, has_changes: bool, summary: str = "") -> State:
    """Fold the outcome of a drift check into an InSync state."""
    if state.state is ReleaseState.IN_SYNC and has_changes:
        return State(ReleaseState.DRIFTED, summary or "cluster state has drifted")
    return state


def _verify_snapshot(cur: Snapshot, stored: StoredRelease) -> str:
    if cur.name != stored.name or cur.version != stored.version:
        return (
            f"release not observed: storage has {stored.name}.v{stored.version}, "
            f"last observed {cur.name}.v{cur.version}"
        )
    # Snapshots written by another digest scheme cannot be verified; trust them as Flux does.
    if (cur.api_version or "") == "v2" and cur.digest != stored.digest:
        return "release digest verification failed: storage was modified outside the controller"
    return ""
