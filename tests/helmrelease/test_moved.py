"""A release whose target moved, or whose chart has another name: uninstalled first (or, with
chartNameChangeStrategy InPlaceUpdate, left to be upgraded), against the fake engine."""

from __future__ import annotations

from typing import Any, cast

from controller.helmrelease import inputs
from controller.helmrelease.moved import uninstall_if_moved
from controller.helmrelease.work import Work
from internal.helm import models as hm
from internal.kube.client import ApiClient
from internal.kube.discovery import Discovery
from internal.manager.clusters import Cluster, Clusters
from internal.manager.manager import ManagerFactory
from tests.helmrelease.conftest import FakeDiscovery, Harness, release_object
from tests.helmrelease.test_atomic import next_work, reconcile


async def installed(harness: Harness, raw: dict[str, Any]) -> Work:
    work = next_work(await reconcile(harness, raw))
    assert harness.lib.history("app") == [(1, "deployed")]
    return work


async def move(harness: Harness, work: Work, chart_name: str) -> Any:
    cluster = Cluster(
        hm.ClusterTarget(in_cluster=True),
        cast(ApiClient, None),
        cast(Discovery, FakeDiscovery()),
    )
    factory = ManagerFactory(harness.engine, Clusters(cluster))
    return await uninstall_if_moved(work, factory, inputs.target(work.hr), cluster, chart_name)


async def test_a_chart_of_another_name_is_reinstalled_by_default(harness: Harness) -> None:
    work = await installed(harness, release_object())
    work.status.install_failures = 1

    result = await move(harness, work, "other")

    assert result is not None
    assert result.requeue_after == 0
    assert harness.lib.history("app") == [], "uninstalled: the install starts at revision 1"
    assert work.status.history == []
    assert work.status.install_failures is None
    assert [(e.type, e.reason) for e in work.events][-1] == ("Normal", "UninstallSucceeded")


async def test_in_place_update_keeps_the_release_for_an_upgrade(harness: Harness) -> None:
    raw = release_object(upgrade={"chartNameChangeStrategy": "InPlaceUpdate"})
    work = await installed(harness, raw)

    assert await move(harness, work, "other") is None
    assert harness.lib.history("app") == [(1, "deployed")]


async def test_the_same_chart_name_is_no_move(harness: Harness) -> None:
    work = await installed(harness, release_object())

    assert await move(harness, work, "app") is None
    assert harness.lib.history("app") == [(1, "deployed")]
