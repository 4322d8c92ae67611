"""Leader election on a real Lease: one leader at a time, handover on release and on expiry."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client

from controller.runtime.leader import LeaderElector
from internal.kube import rest
from internal.kube.resources import LEASES

pytestmark = pytest.mark.controller


def _elector(kube: client.ApiClient, namespace: str, who: str) -> LeaderElector:
    return LeaderElector(
        kube,
        namespace,
        "helmward-leader",
        identity=who,
        lease_duration=3,
        renew_deadline=2.5,
        retry_period=0.2,
    )


async def _holder(kube: client.ApiClient, namespace: str) -> str | None:
    lease = await rest.request(kube, "GET", LEASES.path(namespace, "helmward-leader"))
    holder = lease["spec"].get("holderIdentity")
    return str(holder) if holder else None


async def test_one_leader_then_handover_on_release(kube: client.ApiClient, namespace: str) -> None:
    a, b = _elector(kube, namespace, "a"), _elector(kube, namespace, "b")
    await asyncio.wait_for(a.acquire(), 5)
    b_task = asyncio.create_task(b.acquire())
    hold_a = asyncio.create_task(a.hold())
    await asyncio.sleep(4)  # longer than the lease: a keeps renewing, so b must not win
    assert not b_task.done()
    assert await _holder(kube, namespace) == "a"
    hold_a.cancel()
    await a.release()
    await asyncio.wait_for(b_task, 3)
    assert b.is_leader
    assert await _holder(kube, namespace) == "b"
    assert b.transitions_seen == 1


async def test_an_unrenewed_lease_expires_to_the_next_candidate(
    kube: client.ApiClient, namespace: str
) -> None:
    a, b = _elector(kube, namespace, "a"), _elector(kube, namespace, "b")
    await a.acquire()  # a then stops renewing without releasing, as if it crashed
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(b.acquire(), 8)
    assert loop.time() - start >= 1.0, "took over before the lease expired"
    assert await _holder(kube, namespace) == "b"


async def test_a_renewal_that_hangs_loses_the_lease_within_the_renew_deadline(
    kube: client.ApiClient, namespace: str
) -> None:
    """As when etcd is paused: the API server takes the renewal and never answers. The leader
    must step down by its renew deadline, before the Lease can expire for the others."""
    a = _elector(kube, namespace, "a")
    a.renew_deadline = 1.0
    await a.acquire()

    async def hangs() -> bool:
        await asyncio.sleep(3600)
        return True

    a._try_acquire_or_renew = hangs  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(a.hold(), 5)
    assert not a.is_leader
    assert loop.time() - start < a.renew_deadline + a.retry_period + 0.5
