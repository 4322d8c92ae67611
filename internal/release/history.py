"""The HelmRelease's history of release snapshots, newest first, as Flux keeps it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from api.helmrelease import DEFAULT_MAX_HISTORY, Snapshot, TestHookStatus
from internal.helm import models as hm

SNAPSHOT_API_VERSION = "v2"


def _time(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value is not None else None


def snapshot(release: hm.Release, action: str | None) -> Snapshot:
    """A snapshot of a release as the engine reported it: its digests are Flux's, with the OCI
    digest the engine folded in."""
    first = release.first_deployed or release.last_deployed
    last = release.last_deployed or release.first_deployed
    return Snapshot(
        api_version=SNAPSHOT_API_VERSION,
        digest=release.digest,
        name=release.name,
        namespace=release.namespace,
        version=release.version,
        status=release.status,
        action=action,
        chart_name=release.chart.name,
        chart_version=release.chart.version,
        app_version=release.chart.app_version or None,
        config_digest=release.config_digest,
        first_deployed=first,
        last_deployed=last,
        deleted=release.deleted,
        oci_digest=release.oci_digest or None,
    )


def observe(history: Sequence[Snapshot], snap: Snapshot) -> list[Snapshot]:
    """Record a storage write: a new version is added; a known one is updated in place, keeping
    the test results and the action that made it. Newest first."""
    out: list[Snapshot] = []
    found = False
    for old in history:
        if (old.name, old.version) == (snap.name, snap.version):
            found = True
            keep = {
                field: getattr(old, field)
                for field in ("test_hooks", "action", "oci_digest")
                if getattr(old, field) is not None and getattr(snap, field) is None
            }
            out.append(snap.model_copy(update=keep))
        else:
            out.append(old)
    if not found:
        out.append(snap)
    return sorted(out, key=lambda s: s.version, reverse=True)


def with_tests(snap: Snapshot, tests: Sequence[hm.TestHookResult]) -> Snapshot:
    """The snapshot with the test hooks a test action ran."""
    hooks: dict[str, TestHookStatus | None] = {
        t.name: TestHookStatus(
            phase=t.phase, last_started=_time(t.started_at), last_completed=_time(t.completed_at)
        )
        for t in tests
    }
    return snap.model_copy(update={"test_hooks": hooks})


def bounded(history: Sequence[Snapshot], max_history: int) -> list[Snapshot]:
    """At most `max_history` snapshots (0, Helm's unlimited, keeps the default number), and
    never fewer than two, so a rollback target stays."""
    return list(history[: max(max_history or DEFAULT_MAX_HISTORY, 2)])
