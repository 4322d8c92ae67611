"""2,000 sequential engine calls in one process: the resident set stops growing (no leak in the
shim, the binding or the cached clients). Slow; not part of `make test`."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest

from hack.testkit import charts
from internal.helm import Engine
from internal.helm.models import (
    ClusterTarget,
    GetRequest,
    HistoryRequest,
    InstallRequest,
    RenderRequest,
    UpgradeRequest,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

CALLS = 2000
WARMUP = 300


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def test_two_thousand_sequential_calls_do_not_leak(
    engine: Engine, target: ClusterTarget, namespace: str, chart_root: Path
) -> None:
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})
    await engine.install(
        InstallRequest(release_name="soak", namespace=namespace, chart=chart), cluster=target
    )
    ref = {"release_name": "soak", "namespace": namespace}
    samples: list[tuple[int, float, float]] = []
    started = time.monotonic()
    for i in range(1, CALLS + 1):
        match i % 5:
            case 0:
                await engine.upgrade(
                    UpgradeRequest(**ref, chart=chart, values={"message": str(i)}, max_history=3),
                    cluster=target,
                )
            case 1:
                await engine.get(GetRequest(**ref), cluster=target)
            case 2:
                await engine.get(GetRequest(**ref, all_values=True), cluster=target)
            case 3:
                await engine.history(HistoryRequest(**ref), cluster=target)
            case _:
                await engine.render(RenderRequest(**ref, chart=chart, values={"message": str(i)}))
        if i in (1, WARMUP) or i % 250 == 0:
            gc.collect()
            stats = await engine.stats()
            samples.append((i, rss_mib(), stats.heap_alloc_bytes / 2**20))
    elapsed = time.monotonic() - started

    print(f"\n{CALLS} sequential calls in {elapsed:.0f}s ({elapsed / CALLS * 1000:.1f} ms/call)")
    print("   call   RSS MiB   Go heap MiB")
    for i, rss, heap in samples:
        print(f"  {i:5d}   {rss:7.1f}   {heap:11.1f}")
    after_warmup = next(rss for i, rss, _ in samples if i == WARMUP)
    final = samples[-1][1]
    growth = final - after_warmup
    print(f"RSS growth from call {WARMUP} to {CALLS}: {growth:+.1f} MiB")
    history = await engine.history(HistoryRequest(**ref), cluster=target)
    assert len(history.result.releases) == 3, "maxHistory pruned the history as it went"
    assert growth < 40, f"RSS grew {growth:.1f} MiB after warm-up: a leak"
