"""--events-addr: Helmward's events reach Flux's own notification-controller (built from the
module proxy at its pin), whose Alert filters them by severity and exclusion as for Flux's
controllers and whose generic Provider delivers them to a webhook; with no notification-
controller listening, reconciles go on and the undelivered events are counted."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from hack.testkit.charts import write_message_chart
from hack.testkit.flux import (
    apply_notification_object,
    drop_notification_finalizers,
    install_notification_crds,
    running_notification_controller,
)
from hack.testkit.plane import ControlPlane
from hack.testkit.ports import free_ports
from hack.testkit.wait import eventually
from hack.testkit.webhook import Received, Receiver, running_receiver
from tests.e2e.conftest import Harness, running_harness
from tests.monitoring.conftest import metric_names

pytestmark = pytest.mark.e2e


def _probe_event(namespace: str) -> dict[str, Any]:
    return {
        "involvedObject": {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "namespace": namespace,
            "name": "probe",
            "uid": str(uuid.uuid4()),
        },
        "severity": "error",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": f"probe {uuid.uuid4().hex}",
        "reason": "Probe",
        "reportingController": "helm-controller",
    }


async def _alert_is_loaded(events_url: str, receiver: Receiver, namespace: str) -> None:
    """notification-controller matches events against the Alerts in its cache: post probes
    until one comes through, so the test's own events are not sent before the Alert is known."""
    async with aiohttp.ClientSession() as http:

        async def delivered() -> Received | None:
            async with http.post(events_url, json=_probe_event(namespace)) as resp:
                assert resp.status == 202, await resp.text()
            try:
                return await receiver.wait_for(lambda r: r.body.get("reason") == "Probe", 1)
            except AssertionError:
                return None

        await eventually(delivered, within=30, what="a probe event through the Alert")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


def _reasons(receiver: Receiver, name: str) -> list[str]:
    return [
        r.body["reason"]
        for r in receiver.received
        if r.body.get("involvedObject", {}).get("name") == name
    ]


async def test_an_upgrade_failure_reaches_the_receiver_through_flux_alerts(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    await install_notification_crds(kube)
    provider = {"type": "generic", "address": f"{receiver.url}/flux"}
    await apply_notification_object(kube, namespace, "Provider", "webhook", provider)
    alert = {
        "providerRef": {"name": "webhook"},
        "eventSeverity": "error",
        "eventSources": [{"kind": "HelmRelease", "name": "*"}],
        "exclusionList": ["release [^ ]*/muted"],
    }
    await apply_notification_object(kube, namespace, "Alert", "failures", alert)
    charts = [write_message_chart(tmp_path / "src", "demo", "1.0.0")]
    try:
        async with running_notification_controller(
            control_plane.kubeconfig, namespace, tmp_path / "nc"
        ) as nc:
            await _alert_is_loaded(nc.events_url, receiver, namespace)
            flags = (f"--events-addr={nc.events_url}",)
            async with running_harness(
                control_plane, kube, namespace, tmp_path, charts, flags
            ) as h:
                await _upgrade_fails(h, receiver)
    finally:
        await drop_notification_finalizers(kube, namespace)


async def _upgrade_fails(h: Harness, receiver: Receiver) -> None:
    spec = {**h.chart_spec(), "timeout": "3s"}
    for name in ("reported", "muted"):
        await h.apply_release(name, spec)
    for name in ("reported", "muted"):
        await h.wait(name, "Ready", "True")
    # A post-upgrade hook that never completes: the upgrade times out.
    failing = {**spec, "values": {"hang": True}}
    for name in ("reported", "muted"):
        await h.apply_release(name, failing)
    for name in ("reported", "muted"):
        await h.wait(name, "Ready", "False", reason="UpgradeFailed", within=60)

    got = await receiver.wait_for(
        lambda r: (
            r.body.get("reason") == "UpgradeFailed"
            and r.body["involvedObject"]["name"] == "reported"
        ),
        timeout=30,
    )
    print("delivered by notification-controller:", json.dumps(got.body, indent=2))
    body = got.body
    assert body["severity"] == "error"
    assert body["reportingController"] == "helm-controller"
    assert body["involvedObject"]["kind"] == "HelmRelease"
    assert body["involvedObject"]["namespace"] == h.namespace
    assert body["message"].startswith(f"Helm upgrade failed for release {h.namespace}/reported")
    assert body["metadata"]["revision"] == "1.0.0"
    # Helmward's Kubernetes Events say info events happened; the Alert's severity kept them out.
    assert _reasons(receiver, "reported") == ["UpgradeFailed"]
    assert _reasons(receiver, "muted") == []  # the exclusion matched its message


async def test_with_no_notification_controller_reconciles_go_on_and_drops_are_counted(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> None:
    (closed,) = free_ports(1)
    charts = [write_message_chart(tmp_path / "src", "demo", "1.0.0")]
    flags = (f"--events-addr=http://127.0.0.1:{closed}/",)
    async with running_harness(control_plane, kube, namespace, tmp_path, charts, flags) as h:
        assert h.controller is not None
        assert "helmward_events_dropped_total" in await metric_names(h.controller.metrics_url)
        for i in range(5):
            await h.apply_release(f"r{i}", h.chart_spec())
        for i in range(5):
            await h.wait(f"r{i}", "Ready", "True", within=20)

        async def dropped() -> float | None:
            async with aiohttp.ClientSession() as http, http.get(h.controller.metrics_url) as r:
                text = await r.text()
            for line in text.splitlines():
                if line.startswith('helmward_events_dropped_total{reason="undelivered"}'):
                    value = float(line.split()[-1])
                    return value if value >= 5 else None
            return None

        # Each event is retried with backoff (1 s, 2 s, 4 s, 8 s) beside the reconciles.
        count = await eventually(dropped, within=60, what="undelivered events counted")
        print(f"undelivered events counted: {count:.0f}")
