"""The manager with a real informer: reconciles on events, backs off on errors, requeues on
interval, serves health, and lets an in-flight reconcile finish on shutdown."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

import aiohttp
import pytest
from kubernetes_asyncio import client

from controller.runtime.controller import Controller, Result
from controller.runtime.manager import Manager, Options
from hack.testkit.wait import eventually
from internal.kube.resources import CONFIG_MAPS

pytestmark = pytest.mark.controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _options(namespace: str, **kw: object) -> Options:
    return Options(
        health_addr=f"127.0.0.1:{_free_port()}",
        metrics_addr=None,
        watch_namespace=namespace,
        resync_period=None,
        **kw,  # type: ignore[arg-type]
    )


async def _cm(kube: client.ApiClient, namespace: str, name: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"a": "1"})
    await client.CoreV1Api(kube).create_namespaced_config_map(namespace, body)


async def test_reconcile_retry_requeue_and_health(kube: client.ApiClient, namespace: str) -> None:
    calls: Counter[str] = Counter()
    times: dict[str, list[float]] = {}
    loop = asyncio.get_running_loop()

    async def reconcile(key: str) -> Result:
        calls[key] += 1
        times.setdefault(key, []).append(loop.time())
        if key.endswith("/flaky") and calls[key] < 3:
            raise RuntimeError("transient")
        if key.endswith("/periodic"):
            return Result(requeue_after=0.3)
        return Result()

    options = _options(namespace)
    manager = Manager(kube, options)
    manager.add(Controller("cm", manager.informer(CONFIG_MAPS), reconcile, workers=2))
    stop = asyncio.Event()
    run = asyncio.create_task(manager.run(stop))
    try:
        await eventually(lambda: _v(manager.ready()), within=10, what="manager ready")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{options.health_addr}/readyz") as resp,
        ):
            assert resp.status == 200
        for name in ("plain", "flaky", "periodic"):
            await _cm(kube, namespace, name)
        await eventually(lambda: _v(calls[f"{namespace}/flaky"] >= 3), within=10, what="retries")
        await eventually(lambda: _v(calls[f"{namespace}/periodic"] >= 4), within=10, what="requeue")
    finally:
        stop.set()
        await asyncio.wait_for(run, 10)
    flaky = times[f"{namespace}/flaky"]
    # Backoff: 0.75s, then 1.5s, between the three attempts.
    assert flaky[1] - flaky[0] >= 0.7
    assert flaky[2] - flaky[1] >= 1.4
    assert calls[f"{namespace}/plain"] == 1


async def test_shutdown_waits_for_in_flight_reconciles(
    kube: client.ApiClient, namespace: str
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(key: str) -> Result:
        started.set()
        await asyncio.sleep(1.5)
        finished.set()
        return Result()

    manager = Manager(kube, _options(namespace, graceful_shutdown_timeout=10))
    manager.add(Controller("slow", manager.informer(CONFIG_MAPS), slow, workers=1))
    stop = asyncio.Event()
    run = asyncio.create_task(manager.run(stop))
    await eventually(lambda: _v(manager.ready()), within=10, what="manager ready")
    await _cm(kube, namespace, "busy")
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 10)
    assert finished.is_set(), "shutdown cut an in-flight reconcile short"


async def test_past_the_grace_the_cancellers_end_what_reconciles_wait_on(
    kube: client.ApiClient, namespace: str
) -> None:
    started, released = asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    async def stuck(key: str) -> Result:
        started.set()
        try:
            await released.wait()  # as a Helm call waits until the engine cancels it
        except asyncio.CancelledError:
            ended.append("task cancelled")
            raise
        await asyncio.sleep(0.2)  # the failure recorded
        ended.append("returned")
        return Result()

    manager = Manager(kube, _options(namespace, graceful_shutdown_timeout=0.5))
    manager.cancellers.append(released.set)
    manager.add(Controller("stuck", manager.informer(CONFIG_MAPS), stuck, workers=1))
    stop = asyncio.Event()
    run = asyncio.create_task(manager.run(stop))
    await eventually(lambda: _v(manager.ready()), within=10, what="manager ready")
    await _cm(kube, namespace, "busy")
    await asyncio.wait_for(started.wait(), 10)
    loop = asyncio.get_running_loop()
    at = loop.time()
    stop.set()
    await asyncio.wait_for(run, 10)
    assert ended == ["returned"], "the reconcile ended on its own once its call was cancelled"
    assert loop.time() - at >= 0.5, "the cancellers ran only after the grace"


async def test_a_reconcile_deaf_to_the_cancellers_is_cancelled_after_their_grace(
    kube: client.ApiClient, namespace: str
) -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def deaf(key: str) -> Result:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return Result()

    manager = Manager(kube, _options(namespace, graceful_shutdown_timeout=0.3))
    calls: list[str] = []
    manager.cancellers.append(lambda: calls.append("cancel"))
    manager.cancel_grace = 0.3
    manager.add(Controller("deaf", manager.informer(CONFIG_MAPS), deaf, workers=1))
    stop = asyncio.Event()
    run = asyncio.create_task(manager.run(stop))
    await eventually(lambda: _v(manager.ready()), within=10, what="manager ready")
    await _cm(kube, namespace, "busy")
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 5)
    assert (calls, cancelled) == (["cancel"], [True])


async def test_only_the_leader_runs_controllers(kube: client.ApiClient, namespace: str) -> None:
    seen: Counter[str] = Counter()

    def make(who: str) -> Manager:
        async def reconcile(key: str) -> Result:
            seen[who] += 1
            return Result()

        m = Manager(
            kube,
            _options(
                namespace,
                leader_elect=True,
                leader_election_namespace=namespace,
                leader_election_id="test-leader",
            ),
        )
        assert m.elector is not None
        m.elector.identity = who
        m.add(Controller(who, m.informer(CONFIG_MAPS), reconcile))
        return m

    first, second = make("first"), make("second")
    stop1, stop2 = asyncio.Event(), asyncio.Event()
    run1 = asyncio.create_task(first.run(stop1))
    await eventually(lambda: _v(first.ready()), within=10, what="first leads")
    run2 = asyncio.create_task(second.run(stop2))
    await _cm(kube, namespace, "one")
    await eventually(lambda: _v(seen["first"] >= 1), within=10, what="leader reconciles")
    assert not second.started.is_set()
    assert seen["second"] == 0
    stop1.set()
    await asyncio.wait_for(run1, 10)
    await eventually(lambda: _v(second.ready()), within=10, what="second takes over")
    await eventually(lambda: _v(seen["second"] >= 1), within=10, what="new leader reconciles")
    stop2.set()
    await asyncio.wait_for(run2, 10)


async def _v(value: bool) -> bool:
    return value


async def test_lost_leadership_cuts_in_flight_reconciles_at_once(
    kube: client.ApiClient, namespace: str
) -> None:
    """Another replica may lead as soon as the Lease expires: the graceful shutdown is not
    given, the cancellers run at once (else two actions on one release)."""
    started, released = asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    async def busy(key: str) -> Result:
        started.set()
        await released.wait()
        ended.append("returned")
        return Result()

    manager = Manager(
        kube,
        _options(
            namespace,
            leader_elect=True,
            leader_election_namespace=namespace,
            leader_election_id="test-lost",
            graceful_shutdown_timeout=600,
        ),
    )
    assert manager.elector is not None
    manager.elector.renew_deadline = 1.0
    manager.elector.retry_period = 0.2
    manager.cancellers.append(released.set)
    manager.add(Controller("busy", manager.informer(CONFIG_MAPS), busy, workers=1))
    stop = asyncio.Event()
    run = asyncio.create_task(manager.run(stop))
    await eventually(lambda: _v(manager.ready()), within=10, what="manager leads")
    await _cm(kube, namespace, "busy")
    await asyncio.wait_for(started.wait(), 10)

    async def unreachable() -> bool:
        raise OSError("connection refused")

    manager.elector._try_acquire_or_renew = unreachable  # type: ignore[method-assign]
    await asyncio.wait_for(run, 10)
    assert ended == ["returned"], "the in-flight reconcile was cancelled through its call"
    assert not stop.is_set()


async def test_a_sharded_informer_sees_the_shards_objects_among_those_it_selects(
    kube: client.ApiClient, namespace: str
) -> None:
    """--watch-label-selector narrows every sharded informer, its own selector too (a
    watches-mode kind's); an unsharded informer sees what its selector alone selects."""
    core = client.CoreV1Api(kube)
    for name, labels in (
        ("mine-a", {"sharding.fluxcd.io/key": "shard1", "app": "a"}),
        ("mine-b", {"sharding.fluxcd.io/key": "shard1", "app": "b"}),
        ("theirs-a", {"sharding.fluxcd.io/key": "shard2", "app": "a"}),
        ("nobodys-a", {"app": "a"}),
    ):
        meta = client.V1ObjectMeta(name=name, labels=labels)
        await core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=meta))
    manager = Manager(
        kube, _options(namespace, watch_label_selector="sharding.fluxcd.io/key=shard1")
    )
    informers = {
        "sharded": manager.informer(CONFIG_MAPS),
        "sharded app=a": manager.informer(CONFIG_MAPS, label_selector="app=a"),
        "app=a": manager.informer(CONFIG_MAPS, label_selector="app=a", sharded=False),
        "all": manager.informer(CONFIG_MAPS, sharded=False),
    }
    tasks = [asyncio.create_task(i.run()) for i in informers.values()]
    try:
        for informer in informers.values():
            await asyncio.wait_for(informer.synced.wait(), 30)
        seen = {
            what: sorted(k.partition("/")[2] for k in i.store if "kube-root" not in k)
            for what, i in informers.items()
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert seen == {
        "sharded": ["mine-a", "mine-b"],
        "sharded app=a": ["mine-a"],
        "app=a": ["mine-a", "nobodys-a", "theirs-a"],
        "all": ["mine-a", "mine-b", "nobodys-a", "theirs-a"],
    }
