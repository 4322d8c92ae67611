"""A failing install: retries with uninstall remediation, then Stalled; resetAt and forceAt
start it over, each handled once."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


async def _failures(h: Harness, reason: str) -> int:
    events = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector="involvedObject.name=broken"
    )
    return sum(e.count or 1 for e in events.items if e.reason == reason)


async def _annotate(h: Harness, annotations: dict[str, str]) -> None:
    await rest.request(
        h.kube,
        "PATCH",
        HELM_RELEASES.path(h.namespace, "broken"),
        body={"metadata": {"annotations": annotations}},
        content_type=rest.MERGE_PATCH,
    )


async def _handled(h: Harness, field: str, value: str, reason: str, more_than: int) -> bool:
    obj = await h.get("broken")
    return obj["status"].get(field) == value and await _failures(h, reason) > more_than


async def test_install_retries_then_stalls_and_reset_or_force_start_over(
    harness: Harness,
) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "install": {"timeout": "2s", "remediation": {"retries": 1}},
        "upgrade": {"timeout": "2s"},
        "values": {"hang": True},
    }
    await h.apply_release("broken", spec)
    obj = await h.wait("broken", "Stalled", "True", reason="RetriesExceeded", within=120)
    status = obj["status"]
    assert status["installFailures"] == 2
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["message"] == "Failed to install after 2 attempt(s)"
    assert await _failures(h, "InstallFailed") == 2

    # resetAt (with the matching requestedAt) zeroes the counters once. As in Flux, the failed
    # release the last attempt stored is then upgraded.
    await _annotate(
        h, {"reconcile.fluxcd.io/requestedAt": "r1", "reconcile.fluxcd.io/resetAt": "r1"}
    )
    await eventually(
        lambda: _handled(h, "lastHandledResetAt", "r1", "UpgradeFailed", 0),
        within=120,
        what="resetAt handled, then an upgrade",
    )
    await h.wait("broken", "Stalled", "True", reason="RetriesExceeded", within=60)

    # forceAt: one more upgrade although the retries are exhausted.
    before = await _failures(h, "UpgradeFailed")
    await _annotate(
        h, {"reconcile.fluxcd.io/requestedAt": "r2", "reconcile.fluxcd.io/forceAt": "r2"}
    )
    await eventually(
        lambda: _handled(h, "lastHandledForceAt", "r2", "UpgradeFailed", before),
        within=120,
        what="forceAt handled",
    )
