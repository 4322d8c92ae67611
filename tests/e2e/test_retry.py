"""RetryOnFailure: a failing install is retried every retryInterval, not on the queue's
exponential backoff (0.75s, 1.5s, 3s, 6s, ...)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e

RETRY_INTERVAL = 3.0
ATTEMPTS = 5


async def attempt_times(h: Harness, name: str, count: int, within: float) -> list[float]:
    """When each failed attempt was first seen in the status (its failures counter)."""
    seen: list[float] = []
    last = 0
    deadline = time.monotonic() + within
    while len(seen) < count and time.monotonic() < deadline:
        failures = int(((await h.get(name)).get("status") or {}).get("failures") or 0)
        if failures > last:
            seen.extend([time.monotonic()] * (failures - last))
            last = failures
        await asyncio.sleep(0.1)
    assert len(seen) >= count, f"{len(seen)} failed attempts in {within}s"
    return seen


async def test_retry_on_failure_waits_the_retry_interval_between_attempts(
    harness: Harness,
) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        # The target namespace does not exist: each install or upgrade fails at once.
        "targetNamespace": f"{h.namespace[:50]}-absent",
        "install": {"strategy": {"name": "RetryOnFailure", "retryInterval": "3s"}},
        "upgrade": {"strategy": {"name": "RetryOnFailure", "retryInterval": "3s"}},
    }
    await h.apply_release("retry", spec)
    times = await attempt_times(h, "retry", ATTEMPTS, within=90)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each gap is the interval (jittered 5%) plus one failing action and the poll; the
    # backoff's gaps would double each time.
    assert min(gaps) >= RETRY_INTERVAL * 0.9, gaps
    assert max(gaps) - min(gaps) < 1.5, gaps
    obj = await h.get("retry")
    status = obj["status"]
    assert status["lastAttemptedReleaseAction"] in ("install", "upgrade")
    assert "Stalled" not in {c["type"] for c in status["conditions"]}
