"""A clean install, exactly: one Helm revision, one InstallSucceeded, and no Warning event, with
nothing else happening after it (a Flux user alerting on Warning events gets no alert)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hack.testkit.kube import create_helm_repository
from internal.kube import rest
from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 4.0


async def events_of(h: Harness, name: str) -> list[dict[str, Any]]:
    listed = await rest.request(
        h.kube,
        "GET",
        f"/api/v1/namespaces/{h.namespace}/events",
        query={"fieldSelector": f"involvedObject.kind=HelmRelease,involvedObject.name={name}"},
    )
    return list(listed.get("items") or [])


@pytest.mark.parametrize("fresh", [False, True], ids=["repository-ready", "repository-new"])
@pytest.mark.parametrize("attempt", [1, 2, 3])
async def test_a_clean_install_is_one_revision_one_event_and_no_warning(
    harness: Harness, attempt: int, fresh: bool
) -> None:
    """Also with a HelmRepository created together with the release, as a new user does."""
    h = harness
    name = f"clean{attempt}"
    spec = {**h.chart_spec(version="1.0.0"), "values": {"message": "hi"}}
    if fresh:
        repository = f"fresh{attempt}"
        await create_helm_repository(h.kube, h.namespace, h.repo_url, name=repository)
        spec["chart"]["spec"]["sourceRef"]["name"] = repository
    await h.apply_release(name, spec)
    obj = await h.wait(name, "Ready", "True")
    await asyncio.sleep(SETTLE_SECONDS)  # anything racing the install has happened by now
    history = helm_json(h, "history", name)
    assert [(r["revision"], r["status"]) for r in history] == [(1, "deployed")]
    obj = await h.get(name)
    assert [s["version"] for s in obj["status"]["history"]] == [1]
    events = await events_of(h, name)
    assert [e["type"] for e in events if e["type"] == "Warning"] == [], [
        (e["reason"], e["message"]) for e in events
    ]
    assert [(e["reason"], e.get("count", 1)) for e in events] == [("InstallSucceeded", 1)]


async def test_a_second_controller_for_the_same_namespace_waits_as_a_standby(
    harness: Harness,
) -> None:
    """Two `helmward run` for one scope (the demo's controller left running, say): the second
    waits on the scope's Lease, so the install is still exactly one revision and no Warning.
    Without leader election both installed: a Warning InstallFailed 'already exists', and the
    loser saw the winner's release as unmanaged and upgraded it to a second revision."""
    h = harness
    async with h.restart():
        await h.apply_release(
            "twice", {**h.chart_spec(version="1.0.0"), "values": {"message": "x"}}
        )
        await h.wait("twice", "Ready", "True")
        await asyncio.sleep(SETTLE_SECONDS)
        history = helm_json(h, "history", "twice")
        assert [(r["revision"], r["status"]) for r in history] == [(1, "deployed")]
        events = await events_of(h, "twice")
        assert [(e["type"], e["reason"], e.get("count", 1)) for e in events] == [
            ("Normal", "InstallSucceeded", 1)
        ]
