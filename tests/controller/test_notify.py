"""--events-addr: events posted to notification-controller in Flux's event format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client

from controller.notify import ForwardingRecorder, flux_event
from hack.testkit.ports import free_ports
from hack.testkit.wait import eventually

RELEASE = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {
        "name": "podinfo",
        "namespace": "apps",
        "uid": "0b9c6f0e-1111-2222-3333-444455556666",
        "resourceVersion": "42",
        "annotations": {
            "event.toolkit.fluxcd.io/team": "web",
            "reconcile.fluxcd.io/requestedAt": "now",
        },
    },
}


def test_the_body_is_fluxs_event() -> None:
    now = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)
    body = flux_event(
        RELEASE,
        "Warning",
        "InstallFailed",
        "install failed",
        {"helm.toolkit.fluxcd.io/revision": "1.0.0"},
        "helmward-0",
        now,
    )
    assert body == {
        "involvedObject": {
            "kind": "HelmRelease",
            "namespace": "apps",
            "name": "podinfo",
            "uid": "0b9c6f0e-1111-2222-3333-444455556666",
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "resourceVersion": "42",
        },
        "severity": "error",
        "timestamp": "2026-12-02T03:04:05Z",
        "message": "install failed",
        "reason": "InstallFailed",
        "metadata": {
            "helm.toolkit.fluxcd.io/revision": "1.0.0",
            "event.toolkit.fluxcd.io/team": "web",
        },
        "reportingController": "helm-controller",
        "reportingInstance": "helmward-0",
    }
    chart = {**RELEASE, "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart"}
    normal = flux_event(chart, "Normal", "ChartPullSucceeded", "pulled", None, "h")
    assert (normal["severity"], normal["reportingController"]) == ("info", "source-controller")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """A notification-controller stand-in: records each body; answers the statuses queued in
    `answers` first, then 202."""
    bodies: list[dict[str, Any]] = []
    answers: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.Response(status=answers.pop(0) if answers else 202)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    (port,) = free_ports(1)
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/", bodies, answers
    finally:
        await runner.cleanup()


@pytest.mark.controller
async def test_events_are_recorded_and_posted(
    kube: client.ApiClient, namespace: str, receiver: tuple[str, list[Any], list[int]]
) -> None:
    url, bodies, answers = receiver
    answers.extend([503, 500])  # retried, as Flux's retrying client does
    recorder = ForwardingRecorder(kube, "helmward", url)
    recorder.backoff = 0.01
    obj = {**RELEASE, "metadata": {**RELEASE["metadata"], "namespace": namespace}}  # type: ignore[dict-item]
    await recorder.emit(obj, "Normal", "InstallSucceeded", "installed", {"a": "b"})
    await recorder.drain()
    assert len(bodies) == 3
    assert bodies[-1]["reason"] == "InstallSucceeded"
    assert bodies[-1]["involvedObject"]["namespace"] == namespace
    assert bodies[-1]["metadata"] == {"a": "b", "event.toolkit.fluxcd.io/team": "web"}

    async def recorded() -> bool:
        events = await client.CoreV1Api(kube).list_namespaced_event(namespace)
        return any(e.reason == "InstallSucceeded" for e in events.items)

    await eventually(recorded, within=10, what="the Kubernetes Event")

    answers.append(429)  # a duplicate to notification-controller: not retried
    await recorder.emit(obj, "Warning", "UpgradeFailed", "failed")
    await recorder.drain()
    assert [b["reason"] for b in bodies[3:]] == ["UpgradeFailed"]


@pytest.mark.controller
async def test_an_unreachable_receiver_is_logged_not_raised(
    kube: client.ApiClient, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    (closed,) = free_ports(1)
    recorder = ForwardingRecorder(kube, "helmward", f"http://127.0.0.1:{closed}/")
    recorder.backoff = 0.01
    obj = {**RELEASE, "metadata": {**RELEASE["metadata"], "namespace": namespace}}  # type: ignore[dict-item]
    with caplog.at_level(logging.ERROR, logger="controller.notify"):
        await recorder.emit(obj, "Normal", "InstallSucceeded", "installed")
        await recorder.drain()
    assert [r.getMessage() for r in caplog.records] == ["unable to record event"]
