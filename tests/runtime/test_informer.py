"""The informer against the real API server: events, the store, bookmarks and 410 relists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from controller.runtime.informer import Informer, Obj
from hack.testkit.wait import eventually
from internal.kube.resources import CONFIG_MAPS

pytestmark = pytest.mark.controller


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []

    def record(kind: str, obj: Obj) -> None:
        events.append((kind, obj["metadata"]["name"]))

    informer.add_handler(record)
    task = asyncio.create_task(informer.run())
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _cm(name: str, value: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"v": value})


async def test_list_then_watch_keeps_the_store_in_step(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(namespace, _cm("before", "1"))
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace, page_size=2)
    async with running(informer) as events:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert f"{namespace}/before" in informer.store
        await core.create_namespaced_config_map(namespace, _cm("after", "1"))
        await core.replace_namespaced_config_map("after", namespace, _cm("after", "2"))
        await core.delete_namespaced_config_map("before", namespace)

        async def settled() -> bool:
            return ("DELETED", "before") in events and informer.store.get(
                f"{namespace}/after", {}
            ).get("data") == {"v": "2"}

        await eventually(settled, within=10, what="watch events applied")
    assert ("ADDED", "before") in events
    assert ("ADDED", "after") in events
    assert all("managedFields" not in o["metadata"] for o in informer.store.values())
    assert ("MODIFIED", "after") in events
    assert f"{namespace}/before" not in informer.store


async def test_expired_resource_version_relists(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    for i in range(3):
        await core.create_namespaced_config_map(namespace, _cm(f"cm-{i}", "x"))
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace)
    # Resume from a version the API server has long forgotten: it answers 410 Gone.
    informer.resource_version = "1"
    async with running(informer) as events:

        async def relisted() -> bool:
            return informer.relists >= 1 and len(informer.store) >= 3

        await eventually(relisted, within=10, what="a relist after 410")
        await core.create_namespaced_config_map(namespace, _cm("late", "x"))
        await eventually(
            lambda: _async(("ADDED", "late") in events), within=10, what="watch after relist"
        )
    assert {f"cm-{i}" for i in range(3)} <= {name for _, name in events}


async def test_label_selector_shards_the_watch(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    mine = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="mine", labels={"shard": "a"}), data={}
    )
    theirs = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="theirs", labels={"shard": "b"}), data={}
    )
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace, label_selector="shard=a")
    async with running(informer) as events:
        await asyncio.wait_for(informer.synced.wait(), 10)
        await core.create_namespaced_config_map(namespace, theirs)
        await core.create_namespaced_config_map(namespace, mine)
        await eventually(lambda: _async(("ADDED", "mine") in events), within=10, what="mine")
    assert ("ADDED", "theirs") not in events
    assert set(informer.store) == {f"{namespace}/mine"}


async def test_resync_replays_the_store(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(namespace, _cm("steady", "1"))
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace, resync_period=0.2)
    async with running(informer) as events:
        await eventually(
            lambda: _async(events.count(("SYNC", "steady")) >= 2), within=5, what="two resyncs"
        )


async def _async(value: bool) -> bool:
    return value


async def test_metadata_only_informer_on_an_empty_namespace_syncs(
    kube: client.ApiClient, namespace: str
) -> None:
    from internal.kube.resources import SECRETS

    informer = Informer(kube, SECRETS, namespace=namespace, metadata_only=True)
    async with running(informer) as events:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert informer.store == {}
        await client.CoreV1Api(kube).create_namespaced_secret(
            namespace,
            client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "hidden"}),
        )
        await eventually(lambda: _async(("ADDED", "s") in events), within=10, what="secret seen")
    held = informer.store[f"{namespace}/s"]
    assert "data" not in held, "a metadata-only informer must not hold Secret data"


async def test_a_write_is_announced_once_before_its_echo(
    kube: client.ApiClient, namespace: str
) -> None:
    from internal.kube import rest

    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(namespace, _cm("mine", "1"))
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace)
    async with running(informer) as events:
        await asyncio.wait_for(informer.synced.wait(), 10)
        old = informer.store[f"{namespace}/mine"]
        written = await rest.request(
            kube,
            "PATCH",
            CONFIG_MAPS.path(namespace, "mine"),
            body={"data": {"v": "2"}},
            content_type=rest.MERGE_PATCH,
        )
        informer.observe_write(written)
        assert informer.store[f"{namespace}/mine"]["data"] == {"v": "2"}
        assert events.count(("MODIFIED", "mine")) == 1
        # An older state, say a late event, never replaces a newer one.
        informer.observe_write(old)
        assert informer.store[f"{namespace}/mine"]["data"] == {"v": "2"}

        await core.create_namespaced_config_map(namespace, _cm("marker", "1"))
        await eventually(
            lambda: _async(("ADDED", "marker") in events), within=10, what="later events"
        )
    # The watch delivered the write's echo before the marker; it was not announced again.
    assert events.count(("MODIFIED", "mine")) == 1
