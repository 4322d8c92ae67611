"""Source events as source-controller records them: one per new artifact, annotated with the
artifact's revision and digest; also when a reconcile request arrives while the fetch that
makes the artifact is still running (`flux reconcile --with-source` does exactly that)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client

from api.meta import RECONCILE_REQUEST_ANNOTATION, timestamp
from controller.runtime import informer as informer_module
from controller.sources.context import RESOURCES
from hack.testkit.chart_server import ChartServer
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_index, helm_package
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from tests.sources.conftest import Sources, chart_repository
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources

REVISION = "source.toolkit.fluxcd.io/revision"
DIGEST = "source.toolkit.fluxcd.io/digest"


class SlowServer(ChartServer):
    """A chart repository that answers each request after `delay` seconds and tells, through
    `started`, which paths a request has begun for."""

    delay = 0.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.started: dict[str, asyncio.Event] = {}

    def began(self, path: str) -> asyncio.Event:
        return self.started.setdefault(path, asyncio.Event())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.began(request.match_info["path"]).set()
        await asyncio.sleep(self.delay)
        return await super()._handle(request)


@dataclass
class Lag:
    """Delays the source informers' watch events by `seconds` each, as a busy API server does:
    an object's own status write then reaches the cache well after the reconcile that made it."""

    seconds: float = 0.0


@pytest.fixture
def lag(monkeypatch: pytest.MonkeyPatch) -> Lag:
    lag = Lag()
    watch = informer_module.rest.watch

    async def lagging(*args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for event in watch(*args, **kwargs):
            if lag.seconds and event.get("type") != "BOOKMARK":
                await asyncio.sleep(lag.seconds)
            yield event

    monkeypatch.setattr(informer_module.rest, "watch", lagging)
    return lag


@pytest.fixture
async def slow_repo(tmp_path: Path, control_plane: ControlPlane) -> AsyncIterator[SlowServer]:
    chart = write_chart(tmp_path / "a", "podinfo", "6.0.3")
    async with chart_repository(tmp_path, control_plane.helm, chart, SlowServer) as server:
        yield server


async def events_of(sources: Sources, name: str, reason: str) -> list[client.CoreV1Event]:
    core = client.CoreV1Api(sources.kube)
    found = await core.list_namespaced_event(
        sources.namespace, field_selector=f"involvedObject.name={name}"
    )
    return [e for e in found.items if e.reason == reason]


async def request_reconcile(sources: Sources, kind: str, name: str) -> None:
    """What `flux reconcile` does: a new value of the reconcile request annotation."""
    await rest.request(
        sources.kube,
        "PATCH",
        RESOURCES[kind].path(sources.namespace, name),
        body={"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: timestamp()}}},
        content_type=rest.MERGE_PATCH,
    )


def _summary(events: list[client.CoreV1Event]) -> list[tuple[Any, ...]]:
    return [(e.reason, e.count, e.message, e.metadata.annotations) for e in events]


async def test_one_change_is_one_event_per_source_with_revision_and_digest(
    lag: Lag, sources: Sources, slow_repo: SlowServer, control_plane: ControlPlane, tmp_path: Path
) -> None:
    await sources.apply("HelmRepository", "charts", source_spec(slow_repo.url))
    await sources.apply("HelmChart", "podinfo", chart_spec("podinfo", "HelmRepository", "charts"))
    await sources.ready("HelmChart", "podinfo")

    # One change: a new chart version in the repository, picked up on a reconcile request;
    # another request lands on each source while its fetch is under way.
    new = write_chart(tmp_path / "b", "podinfo", "6.0.4")
    helm_package(control_plane.helm, new, slow_repo.root)
    helm_index(control_plane.helm, slow_repo.root, slow_repo.url)
    slow_repo.delay = 2.0
    lag.seconds = 1.0
    slow_repo.started.clear()
    await request_reconcile(sources, "HelmRepository", "charts")
    await slow_repo.began("index.yaml").wait()
    await request_reconcile(sources, "HelmRepository", "charts")
    await slow_repo.began("podinfo-6.0.4.tgz").wait()
    await request_reconcile(sources, "HelmChart", "podinfo")

    async def pulled() -> dict[str, Any] | None:
        chart = await sources.get("HelmChart", "podinfo")
        artifact = (chart.get("status") or {}).get("artifact") or {}
        return chart if artifact.get("revision") == "6.0.4" else None

    chart = await eventually(pulled, within=30, what="the chart pulled at 6.0.4")
    await asyncio.sleep(4 * slow_repo.delay)  # room for a second reconcile of each
    repo = await sources.get("HelmRepository", "charts")

    new_index = [
        e
        for e in await events_of(sources, "charts", "NewArtifact")
        if "2 chart versions" in e.message
    ]
    new_chart = [
        e for e in await events_of(sources, "podinfo", "ChartPullSucceeded") if "6.0.4" in e.message
    ]
    for obj, events in ((repo, new_index), (chart, new_chart)):
        assert len(events) == 1, _summary(events)
        assert events[0].count == 1, _summary(events)
        artifact = obj["status"]["artifact"]
        assert events[0].metadata.annotations == {
            REVISION: artifact["revision"],
            DIGEST: artifact["digest"],
        }, _summary(events)
        assert events[0].source.component == "source-controller"


async def test_a_chart_waiting_for_its_source_records_no_warning(
    sources: Sources, slow_repo: SlowServer
) -> None:
    """A HelmChart applied with its HelmRepository, before the repository has an artifact,
    waits for it: the wait is a Normal event, as source-controller records it (a trace), never
    a Warning that would alert on every new chart."""
    slow_repo.delay = 2.0  # the index comes after the chart's first reconcile
    await sources.apply("HelmRepository", "late", source_spec(slow_repo.url))
    await slow_repo.began("index.yaml").wait()
    await sources.apply("HelmChart", "early", chart_spec("podinfo", "HelmRepository", "late"))
    await sources.wait("HelmChart", "early", "FetchFailed", "True")
    await sources.ready("HelmChart", "early")
    core = client.CoreV1Api(sources.kube)
    found = await core.list_namespaced_event(sources.namespace)
    events = [(e.type, e.reason) for e in found.items]
    assert ("Normal", "NoSourceArtifact") in events, events
    assert [e for e in events if e[0] == "Warning"] == [], events
