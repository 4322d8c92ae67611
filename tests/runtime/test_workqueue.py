"""The work queue: one worker per key, nothing lost, backoff and delays."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from controller.runtime.ratelimit import ExponentialBackoff, jittered
from controller.runtime.workqueue import ShutDown, WorkQueue


async def test_duplicate_adds_collapse() -> None:
    q = WorkQueue()
    for _ in range(3):
        q.add("ns/a")
    q.add("ns/b")
    assert len(q) == 2
    assert await q.get() == "ns/a"
    assert await q.get() == "ns/b"


async def test_key_added_while_processing_runs_again_after_done() -> None:
    q = WorkQueue()
    q.add("ns/a")
    key = await q.get()
    q.add("ns/a")  # an event arrives mid-reconcile
    assert len(q) == 0, "must not be handed to a second worker while processing"
    q.done(key)
    assert await asyncio.wait_for(q.get(), 1) == "ns/a"


async def test_workers_never_share_a_key_and_lose_nothing() -> None:
    q = WorkQueue()
    running: set[str] = set()
    seen: dict[str, int] = {}
    overlap = False

    async def worker() -> None:
        nonlocal overlap
        try:
            while True:
                key = await q.get()
                if key in running:
                    overlap = True
                running.add(key)
                await asyncio.sleep(random.random() / 200)
                seen[key] = seen.get(key, 0) + 1
                running.discard(key)
                q.done(key)
        except ShutDown:
            return

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(300):
        q.add(f"ns/k{i % 10}")
        if i % 7 == 0:
            await asyncio.sleep(0)
    for _ in range(1000):
        if not (len(q) or q.processing):
            break
        await asyncio.sleep(0.01)
    q.shut_down()
    await asyncio.gather(*workers)
    assert not overlap
    assert set(seen) == {f"ns/k{i}" for i in range(10)}


async def test_add_after_keeps_the_earliest_deadline() -> None:
    q = WorkQueue()
    q.add_after("ns/a", 5)
    q.add_after("ns/a", 0.05)
    q.add_after("ns/a", 10)
    delay = q.pending_delay("ns/a")
    assert delay is not None
    assert delay < 0.1
    assert await asyncio.wait_for(q.get(), 1) == "ns/a"
    assert q.pending_delay("ns/a") is None


async def test_shut_down_wakes_waiting_workers() -> None:
    q = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shut_down()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(waiter, 1)


async def test_a_shut_down_queue_hands_out_no_queued_key() -> None:
    q = WorkQueue()
    q.add("ns/a")
    q.add("ns/b")
    assert await q.get() == "ns/a"
    q.add("ns/a")  # changed while in process: would be queued again when done
    q.shut_down()
    q.done("ns/a")
    for _ in range(2):
        with pytest.raises(ShutDown):
            await asyncio.wait_for(q.get(), 1)


def test_exponential_backoff_from_750ms_to_15m() -> None:
    b = ExponentialBackoff()
    delays = [b.when("k") for _ in range(15)]
    assert delays[:4] == [0.75, 1.5, 3.0, 6.0]
    assert delays[-1] == 900.0
    assert all(x <= y for x, y in itertools.pairwise(delays))
    assert b.failures("k") == 15
    assert b.when("other") == 0.75
    b.forget("k")
    assert b.when("k") == 0.75


def test_jitter_stays_within_the_percentage() -> None:
    rng = random.Random(1)
    values = [jittered(600, 5, rng) for _ in range(1000)]
    assert min(values) >= 570
    assert max(values) <= 630
    assert max(values) - min(values) > 30


async def test_urgent_keys_jump_the_queue() -> None:
    q = WorkQueue()
    for i in range(5):
        q.add(f"ns/routine-{i}")
    q.add("ns/dependent", urgent=True)
    q.add("ns/routine-3", urgent=True)  # already queued: moves to the front
    assert await q.get() == "ns/routine-3"
    assert await q.get() == "ns/dependent"
    assert await q.get() == "ns/routine-0"


async def test_an_urgent_key_being_processed_stays_urgent() -> None:
    q = WorkQueue()
    q.add("ns/dependent")
    assert await q.get() == "ns/dependent"  # its worker is checking the dependency now
    for i in range(3):
        q.add(f"ns/routine-{i}")
    q.add("ns/dependent", urgent=True)  # the dependency turned Ready meanwhile
    q.add("ns/late", urgent=False)
    q.done("ns/dependent")
    assert await q.get() == "ns/dependent"
    assert await q.get() == "ns/routine-0"
    # Once handled, the key is routine again.
    q.done("ns/dependent")
    q.add("ns/dependent")
    assert list(q._queue)[-1] == "ns/dependent"
