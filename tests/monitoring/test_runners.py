"""The monitoring test kit's runners each do their one job: Prometheus scrapes a target and
answers a query, Alertmanager delivers an alert to a webhook, kube-state-metrics reports
`gotk_resource_info` for a Flux object, and notification-controller forwards an event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio import client

from hack.testkit.alertmanager import running_alertmanager
from hack.testkit.flux import (
    apply_notification_object,
    drop_notification_finalizers,
    install_notification_crds,
    running_notification_controller,
)
from hack.testkit.httpd import serve
from hack.testkit.kube import create_helm_repository
from hack.testkit.kube_state_metrics import running_kube_state_metrics
from hack.testkit.plane import ControlPlane
from hack.testkit.prometheus import ScrapeTarget, running_prometheus
from hack.testkit.wait import eventually
from hack.testkit.webhook import Received, running_receiver
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused


@pytest.fixture
async def metrics_target() -> AsyncIterator[str]:
    """A /metrics endpoint with one gauge whose own `namespace` label Prometheus must keep as
    exported_namespace; its host:port."""

    async def metrics(_: web.Request) -> web.Response:
        body = '# TYPE smoke_value gauge\nsmoke_value{namespace="apps"} 42\n'
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner, port = await serve(app)
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_prometheus_scrapes_with_target_labels(tmp_path: Path, metrics_target: str) -> None:
    target = ScrapeTarget(metrics_target, {"namespace": "flux-system", "pod": "helm-controller-0"})
    async with running_prometheus(tmp_path, [target]) as prom:
        await prom.wait_for_targets_up()
        result = await eventually(lambda: prom.query("smoke_value"), what="smoke_value scraped")
    [series] = result
    assert series["value"][1] == "42"
    labels = series["metric"]
    assert labels["namespace"] == "flux-system"
    assert labels["exported_namespace"] == "apps"
    assert labels["pod"] == "helm-controller-0"


async def test_alertmanager_delivers_to_the_webhook(tmp_path: Path) -> None:
    async with (
        running_receiver() as receiver,
        running_alertmanager(tmp_path, f"{receiver.url}/alerts") as am,
    ):
        await am.post_alerts([{"labels": {"alertname": "SmokeAlert", "severity": "info"}}])
        got = await receiver.wait_for(lambda r: r.path == "/alerts", timeout=20)
    assert got.body["status"] == "firing"
    assert [a["labels"]["alertname"] for a in got.body["alerts"]] == ["SmokeAlert"]


async def test_kube_state_metrics_reports_gotk_resource_info(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    flux_crds: list[str],
    namespace: str,
    tmp_path: Path,
) -> None:
    await create_helm_repository(kube, namespace, "https://charts.example.invalid/", name="smoke")
    async with (
        running_kube_state_metrics(control_plane.kubeconfig, tmp_path) as ksm,
        aiohttp.ClientSession() as http,
    ):

        async def line() -> str | None:
            async with http.get(ksm.url) as resp:
                text = await resp.text()
            return next(
                (
                    line
                    for line in text.splitlines()
                    if line.startswith("gotk_resource_info{")
                    and f'exported_namespace="{namespace}"' in line
                ),
                None,
            )

        found = await eventually(line, within=30, what="gotk_resource_info of the HelmRepository")
    assert 'customresource_kind="HelmRepository"' in found
    assert 'name="smoke"' in found
    assert 'url="https://charts.example.invalid/"' in found
    assert found.endswith(" 1")


def _flux_event(namespace: str, name: str, token: str) -> dict[str, Any]:
    """An event as helm-controller POSTs it. Metadata keys carry the object's API group: the
    event server keeps only those and event.toolkit.fluxcd.io/ ones."""
    return {
        "involvedObject": {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "namespace": namespace,
            "name": name,
            "uid": str(uuid.uuid4()),
        },
        "severity": "info",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": "Helm install succeeded for release smoke/smoke.v1 with chart demo@1.0.0",
        "reason": "InstallSucceeded",
        "reportingController": "helm-controller",
        "metadata": {
            "helm.toolkit.fluxcd.io/revision": "1.0.0",
            "helm.toolkit.fluxcd.io/token": token,
        },
    }


async def test_notification_controller_forwards_an_event(
    control_plane: ControlPlane, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    await install_notification_crds(kube)
    async with running_receiver() as receiver:
        provider = {"type": "generic", "address": f"{receiver.url}/flux"}
        await apply_notification_object(kube, namespace, "Provider", "smoke", provider)
        alert = {
            "providerRef": {"name": "smoke"},
            "eventSeverity": "info",
            "eventSources": [{"kind": "HelmRelease", "name": "*"}],
        }
        await apply_notification_object(kube, namespace, "Alert", "smoke", alert)
        try:
            async with (
                running_notification_controller(
                    control_plane.kubeconfig, namespace, tmp_path
                ) as nc,
                aiohttp.ClientSession() as http,
            ):

                async def delivered() -> Received | None:
                    # A new token each time: the event server drops a repeat of an event, and
                    # the first ones may come before its cache holds the Alert.
                    event = _flux_event(namespace, "smoke", uuid.uuid4().hex)
                    async with http.post(nc.events_url, json=event) as resp:
                        assert resp.status == 202, await resp.text()
                    try:
                        return await receiver.wait_for(lambda r: r.path == "/flux", timeout=1)
                    except AssertionError:
                        return None

                got = await eventually(delivered, within=30, what="the event at the receiver")
        finally:
            await drop_notification_finalizers(kube, namespace)
    assert got.body["involvedObject"]["name"] == "smoke"
    assert got.body["reason"] == "InstallSucceeded"
    # The token is the event server's own, and the revision loses its group prefix.
    assert got.body["metadata"] == {"revision": "1.0.0"}
