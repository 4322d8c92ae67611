"""internal.manager.records: the newest record of each release from storage Secrets' metadata,
and when what was last read of it still holds."""

from __future__ import annotations

from typing import Any

from internal.manager.records import Record, Records, Summary, record_of, slim
from internal.release.state import StoredRelease


def secret(name: str, version: int, rv: str, status: str = "deployed", ns: str = "apps") -> Any:
    return {
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{version}",
            "namespace": ns,
            "resourceVersion": rv,
            "uid": "u",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {
                "name": name,
                "owner": "helm",
                "status": status,
                "version": str(version),
                "modifiedAt": "1",
            },
        }
    }


def summary(rv: str, version: int = 1, oci: str = "") -> Summary:
    return Summary(rv, oci, StoredRelease("web", version, "deployed", "demo", "1.0.0", "sha256:x"))


def test_a_secret_that_is_no_release_record_is_ignored() -> None:
    other = secret("web", 1, "5")
    other["metadata"]["labels"]["owner"] = "someone"
    unversioned = secret("web", 1, "5")
    unversioned["metadata"]["labels"]["version"] = "one"
    assert record_of(other) is None
    assert record_of(unversioned) is None
    assert record_of(secret("web", 3, "7")) == ("apps", "web", Record(3, "deployed", "7"))


def test_slim_keeps_what_the_index_reads() -> None:
    kept = slim(secret("web", 2, "9"))
    assert kept == {
        "metadata": {
            "name": "sh.helm.release.v1.web.v2",
            "namespace": "apps",
            "resourceVersion": "9",
            "labels": {"name": "web", "owner": "helm", "status": "deployed", "version": "2"},
        }
    }
    assert record_of(kept) == record_of(secret("web", 2, "9"))


def test_the_newest_version_is_the_highest_and_follows_deletions() -> None:
    records = Records("apps", lambda: True)
    for version, rv in ((1, "5"), (3, "9"), (2, "7")):
        records.on_event("ADDED", secret("web", version, rv))
    assert records.newest("apps", "web") == Record(3, "deployed", "9")
    records.on_event("DELETED", secret("web", 3, "9"))
    assert records.newest("apps", "web") == Record(2, "deployed", "7")
    records.on_event("MODIFIED", secret("web", 2, "11", status="superseded"))
    assert records.newest("apps", "web") == Record(2, "superseded", "11")
    assert records.newest("apps", "other") is None
    assert records.newest("elsewhere", "web") is None


def test_a_summary_holds_while_the_record_is_unchanged() -> None:
    records = Records("apps", lambda: True)
    records.on_event("ADDED", secret("web", 1, "5"))
    newest = records.newest("apps", "web")
    assert newest is not None
    records.remember("apps", "web", summary("5"))
    assert records.summary("apps", "web", newest, "") == summary("5")
    # Another OCI digest folded into the record's digest: read again.
    assert records.summary("apps", "web", newest, "sha256:oci") is None
    records.on_event("MODIFIED", secret("web", 1, "6"))
    moved = records.newest("apps", "web")
    assert moved is not None
    assert records.summary("apps", "web", moved, "") is None


def test_a_summary_of_another_version_does_not_hold() -> None:
    records = Records("apps", lambda: True)
    records.on_event("ADDED", secret("web", 2, "5"))
    records.remember("apps", "web", summary("5", version=1))
    newest = records.newest("apps", "web")
    assert newest is not None
    assert records.summary("apps", "web", newest, "") is None


def test_a_release_gone_from_storage_forgets_its_summary() -> None:
    records = Records("apps", lambda: True)
    records.on_event("ADDED", secret("web", 1, "5"))
    records.remember("apps", "web", summary("5"))
    records.on_event("DELETED", secret("web", 1, "5"))
    records.on_event("ADDED", secret("web", 1, "5"))
    newest = records.newest("apps", "web")
    assert newest is not None
    assert records.summary("apps", "web", newest, "") is None
    # Nothing is remembered of a release the watch does not show.
    records.remember("apps", "ghost", summary("1"))
    assert records.summary("apps", "ghost", Record(1, "deployed", "1"), "") is None


def test_resyncs_change_nothing() -> None:
    records = Records("apps", lambda: True)
    records.on_event("SYNC", secret("web", 1, "5"))
    assert records.newest("apps", "web") is None


def test_the_watch_covers_its_namespace_once_listed() -> None:
    listed = False
    records = Records("apps", lambda: listed)
    assert not records.covers("apps")
    listed = True
    assert records.covers("apps")
    assert not records.covers("elsewhere")
    assert Records(None, lambda: True).covers("anywhere")
