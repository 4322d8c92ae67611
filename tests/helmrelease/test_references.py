"""The reference index: edges from the spec, kept per generation, gone on deletion."""

from __future__ import annotations

from typing import Any

from controller.helmrelease.references import ReferenceIndex
from tests.helmrelease.conftest import release_object


def at(generation: int, **spec: Any) -> dict[str, Any]:
    raw = release_object(**spec)
    return {**raw, "metadata": {**raw["metadata"], "generation": generation}}


def test_edges_follow_the_spec_and_go_with_the_object() -> None:
    index = ReferenceIndex()
    index.on_event(
        "ADDED", at(1, dependsOn=[{"name": "db"}], valuesFrom=[{"kind": "Secret", "name": "s"}])
    )
    assert index.dependents("apps/db") == {"apps/app"}
    assert index.using_values("Secret", "apps/s") == {"apps/app"}
    assert index.using_source("HelmChart", "apps/apps-app") == {"apps/app"}

    index.on_event("MODIFIED", at(2))
    assert index.dependents("apps/db") == frozenset()
    assert index.using_values("Secret", "apps/s") == frozenset()

    index.on_event("DELETED", at(2))
    assert index.using_source("HelmChart", "apps/apps-app") == frozenset()


def test_a_status_write_of_the_same_generation_is_not_parsed_again() -> None:
    index = ReferenceIndex()
    index.on_event("ADDED", at(1, dependsOn=[{"name": "db"}]))
    invalid = at(1)
    invalid["spec"]["interval"] = "not a duration"  # would drop the edges if it were parsed
    index.on_event("MODIFIED", invalid)
    assert index.dependents("apps/db") == {"apps/app"}
