"""Fixtures of the action reconciler tests: a HelmRelease, a Manager over the fake engine, and
a status writer that records instead of writing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

import api
from api.helmrelease import HelmRelease
from controller.helmrelease import inputs
from controller.helmrelease.actions import Request
from controller.helmrelease.status import StatusWriter, wire
from controller.helmrelease.work import Work
from controller.runtime.informer import Informer
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube.discovery import Discovery
from internal.manager.clusters import Cluster, Clusters
from internal.manager.manager import Chart, ManagerFactory
from tests.helmrelease.fakeengine import FakeLibrary


def release_object(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "app", "namespace": "apps", "generation": 1},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {"chart": "app", "sourceRef": {"kind": "HelmRepository", "name": "r"}}
            },
            **spec,
        },
    }


@dataclass
class Resource:
    namespaced: bool = True


class FakeDiscovery:
    async def resource(self, api_version: str, kind: str) -> Resource:
        return Resource()


@dataclass
class RecordingWriter:
    """The StatusWriter seam: each status write kept in its wire form."""

    writes: list[dict[str, Any]] = field(default_factory=list)

    async def write_status(self, work: Work) -> None:
        self.writes.append(wire(work.status))


@dataclass
class Harness:
    lib: FakeLibrary
    engine: Engine
    writer: RecordingWriter
    info: hm.ChartInfo

    def request(self, raw: dict[str, Any], work: Work | None = None) -> Request:
        hr = api.parse(raw)
        assert isinstance(hr, HelmRelease)
        work = work or Work.of(raw, hr)
        cluster = Cluster(
            hm.ClusterTarget(in_cluster=True),
            cast(ApiClient, None),
            cast(Discovery, FakeDiscovery()),
        )
        factory = ManagerFactory(self.engine, Clusters(cluster))
        chart = Chart(Path("/charts/app-1.0.0.tgz"), self.info, {"replicas": 1})
        mgr = factory.new_manager(work.hr, inputs.target(work.hr), cluster, chart)
        return Request(work, mgr, cast(StatusWriter, self.writer))


@pytest.fixture
def harness() -> Iterator[Harness]:
    lib = FakeLibrary()
    engine = Engine(lib)  # type: ignore[arg-type]
    info = hm.ChartInfo(
        metadata={"name": "app", "version": "1.0.0"},
        values={},
        dependencies=[],
        subcharts=[],
        missing_dependencies=[],
        crds=[],
        crd_objects=[],
        templates=[],
    )
    yield Harness(lib, engine, RecordingWriter(), info)
    engine.close()


__all__ = ["Harness", "Informer", "release_object"]
