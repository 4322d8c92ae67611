"""Drift: an object of the release edited by hand is corrected (mode enabled) without a new
Helm revision, or reported (mode warn)."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("mode", ["enabled", "warn"])
async def test_drift_corrected_or_warned(harness: Harness, mode: str) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "values": {"message": "desired"},
        "driftDetection": {"mode": mode},
    }
    await h.apply_release("drifty", spec)
    await h.wait("drifty", "Ready", "True")
    await h.wait("drifty", "Drifted", "False", reason="NoDriftDetected")
    await h.tamper("drifty")
    await h.request_reconcile("drifty", "t1")
    if mode == "enabled":

        async def corrected() -> bool:
            return (await h.config("drifty"))["message"] == "desired"

        await eventually(corrected, within=60, what="drift corrected")
        obj = await h.get("drifty")
        assert obj["status"]["history"][0]["version"] == 1, "no new Helm revision"
    else:
        obj = await h.wait("drifty", "Drifted", "True", reason="DriftDetected")
        drifted = next(c for c in obj["status"]["conditions"] if c["type"] == "Drifted")
        assert "ConfigMap" in drifted["message"]
        assert "/data/message" in drifted["message"]
        assert (await h.config("drifty"))["message"] == "tampered"
    wanted = {"DriftDetected", "DriftCorrected"} if mode == "enabled" else {"DriftDetected"}

    async def reported() -> bool:
        events = await client.CoreV1Api(h.kube).list_namespaced_event(
            h.namespace, field_selector="involvedObject.name=drifty"
        )
        return wanted <= {e.reason for e in events.items}

    await eventually(reported, within=30, what=f"events {wanted}")
