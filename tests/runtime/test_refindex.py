"""The reference index: referrers found by what they refer to, kept current from events."""

from __future__ import annotations

from typing import Any

from controller.app import _chart_sources, _included
from controller.runtime.refindex import RefIndex


def chart(name: str, kind: str, source: str, ns: str = "apps") -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"sourceRef": {"kind": kind, "name": source}},
    }


def test_referrers_follow_adds_edits_and_deletes() -> None:
    index = RefIndex(_chart_sources)
    for i in range(1000):
        index.on_event("ADDED", chart(f"c{i}", "HelmRepository", f"repo{i % 10}"))
    assert index.referring(("HelmRepository", "apps/repo3")) == {
        f"apps/c{i}" for i in range(3, 1000, 10)
    }
    index.on_event("MODIFIED", chart("c3", "GitRepository", "git"))
    assert "apps/c3" not in index.referring(("HelmRepository", "apps/repo3"))
    assert index.referring(("GitRepository", "apps/git")) == {"apps/c3"}
    index.on_event("DELETED", chart("c3", "GitRepository", "git"))
    assert index.referring(("GitRepository", "apps/git")) == frozenset()
    # A source of the same name in another namespace is another source.
    assert index.referring(("HelmRepository", "other/repo3")) == frozenset()


def test_a_list_replaying_the_same_object_changes_nothing() -> None:
    index = RefIndex(_chart_sources)
    index.on_event("ADDED", chart("c", "Bucket", "b"))
    index.on_event("SYNC", chart("c", "Bucket", "b"))
    assert index.referring(("Bucket", "apps/b")) == {"apps/c"}


def test_includes_are_found_by_the_included_repository() -> None:
    index = RefIndex(_included)
    including = {
        "metadata": {"namespace": "apps", "name": "app"},
        "spec": {"include": [{"repository": {"name": "lib"}}, {"repository": {"name": "cfg"}}]},
    }
    index.on_event("ADDED", including)
    index.on_event("ADDED", {"metadata": {"namespace": "apps", "name": "lib"}, "spec": {}})
    assert index.referring("apps/lib") == {"apps/app"}
    assert index.referring("apps/cfg") == {"apps/app"}
    assert index.referring("apps/app") == frozenset()
    assert index.referring("other/lib") == frozenset()
