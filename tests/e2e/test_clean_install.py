"""A clean install, exactly: one Helm revision, one InstallSucceeded, and no Warning event, with
nothing else happening after it (a Flux user alerting on Warning events gets no alert)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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


@pytest.mark.parametrize("attempt", [1, 2, 3])
async def test_a_clean_install_is_one_revision_one_event_and_no_warning(
    harness: Harness, attempt: int
) -> None:
    h = harness
    name = f"clean{attempt}"
    await h.apply_release(name, {**h.chart_spec(version="1.0.0"), "values": {"message": "hi"}})
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
