"""The HelmRelease's history of release snapshots, newest first, as Flux keeps it. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_MAX_HISTORY = 5
SNAPSHOT_API_VERSION = "v2"
GOOD = ("deployed", "superseded")

Snap = dict[str, Any]


def _sorted(history: Sequence[Snap]) -> list[Snap]:
    return sorted(history, key=lambda s: int(s.get("version", 0)), reverse=True)


def _test_failed(snap: Snap) -> bool:
    return any((h or {}).get("phase") == "Failed" for h in (snap.get("testHooks") or {}).values())


def previous(history: Sequence[Snap], ignore_tests: bool) -> Snap | None:
    """The rollback target: the newest good snapshot after the latest one."""
    ordered = _sorted(history)
    for snap in ordered[1:]:
        if snap.get("status") in GOOD and (ignore_tests or not _test_failed(snap)):
            return snap
    return None


def truncate(history: Sequence[Snap], ignore_tests: bool) -> list[Snap]:
    """Keep the latest snapshot and everything back to the previous good one."""
    ordered = _sorted(history)
    for i, snap in enumerate(ordered[1:], start=1):
        if snap.get("status") in GOOD and (ignore_tests or not _test_failed(snap)):
            return ordered[: i + 1]
    return ordered[:DEFAULT_MAX_HISTORY]


def truncate_ignoring_previous(history: Sequence[Snap]) -> list[Snap]:
    return _sorted(history)[:DEFAULT_MAX_HISTORY]


def snapshot(
    release: Mapping[str, Any], action: str | None, oci_digest: str | None, config_digest: str
) -> Snap:
    """A snapshot of a release as the engine reported it (camelCase wire form)."""
    chart = release.get("chart", {})
    snap: Snap = {
        "apiVersion": SNAPSHOT_API_VERSION,
        "digest": release["digest"],
        "name": release["name"],
        "namespace": release["namespace"],
        "version": int(release["version"]),
        "status": release["status"],
        "chartName": chart.get("name", ""),
        "chartVersion": chart.get("version", ""),
        "configDigest": config_digest,
        "firstDeployed": release.get("firstDeployed") or release.get("lastDeployed"),
        "lastDeployed": release.get("lastDeployed") or release.get("firstDeployed"),
    }
    if action:
        snap["action"] = action
    if chart.get("appVersion"):
        snap["appVersion"] = chart["appVersion"]
    if release.get("deleted"):
        snap["deleted"] = release["deleted"]
    if oci_digest:
        snap["ociDigest"] = oci_digest
    return snap


def observe(history: Sequence[Snap], snap: Snap) -> list[Snap]:
    """Record a storage write: a new version is prepended; a known one is updated in place,
    keeping the test results and the action that made it."""
    out = []
    found = False
    for old in history:
        if old.get("name") == snap["name"] and old.get("version") == snap["version"]:
            merged = {**snap}
            for keep in ("testHooks", "action"):
                if keep in old and keep not in snap:
                    merged[keep] = old[keep]
            out.append(merged)
            found = True
        else:
            out.append(old)
    if not found:
        out.append(snap)
    return _sorted(out)
