#!/usr/bin/env python3
"""What a Prometheus scrape of /metrics costs with a fleet of objects.

    .venv/bin/python hack/bench/scrape.py [--releases 1000] [--sources 100] [--scrapes 50]

Fills the controller's recorders as a fleet's reconciles would (every HelmRelease with its three
conditions, suspend status and a few reconcile durations; sources alike; the six controllers'
queues and reconcile counters), serves /metrics on 127.0.0.1 as `helmward run` does, and scrapes
it over HTTP. Prints the median and 95th percentile scrape time, the body size, and the series
per release, counted from the exposition with none and with all releases recorded. Also times
prometheus_client's own formatting of the same per-object series, for comparison.
Not part of `make test`: it needs no cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest  # noqa: E402

from controller.metrics import Recorder  # noqa: E402
from controller.metrics.objects import BUCKETS  # noqa: E402
from controller.runtime.health import serve_metrics  # noqa: E402
from controller.runtime.metrics import RuntimeMetrics  # noqa: E402
from hack.testkit.ports import free_ports  # noqa: E402

KINDS = ("HelmRelease", "HelmRepository", "GitRepository", "Bucket", "OCIRepository", "HelmChart")
CONDITIONS = ("Ready", "Reconciling", "Stalled")


def record_object(metrics: Recorder, kind: str, name: str) -> None:
    for type_, status in zip(CONDITIONS, ("True", "Unknown", "Unknown"), strict=True):
        metrics.record_condition(kind, name, "fleet", type_, status)
    metrics.record_suspend(kind, name, "fleet", False)
    for seconds in (0.4, 1.7, 3.2):
        metrics.record_duration(kind, name, "fleet", seconds)


def series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


async def scrape_times(url: str, scrapes: int) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    async with aiohttp.ClientSession() as http:
        for _ in range(scrapes):
            start = time.perf_counter()
            async with http.get(url) as resp:
                body = await resp.read()
            times.append(time.perf_counter() - start)
            size = len(body)
    return times, size


def prometheus_client_time(releases: int) -> float:
    """Seconds prometheus_client takes to format the same per-release series itself."""
    reg = CollectorRegistry()
    labels = ["kind", "name", "namespace"]
    condition = Gauge("c", "c", [*labels, "type", "status"], registry=reg)
    suspend = Gauge("s", "s", labels, registry=reg)
    duration = Histogram("d", "d", labels, buckets=BUCKETS, registry=reg)
    for i in range(releases):
        name = f"release-{i}"
        for type_ in CONDITIONS:
            for status in ("True", "False", "Unknown"):
                condition.labels("HelmRelease", name, "fleet", type_, status).set(0)
        suspend.labels("HelmRelease", name, "fleet").set(0)
        duration.labels("HelmRelease", name, "fleet").observe(1.0)
    start = time.perf_counter()
    generate_latest(reg)
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=100, help="per source kind")
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()

    registry = CollectorRegistry()
    metrics = Recorder(registry)
    runtime = RuntimeMetrics(registry)
    for kind in KINDS:
        ctrl = runtime.controller(kind, 4)
        for _ in range(20):
            ctrl.added(1)
            ctrl.taken(0.01, 0)
            ctrl.worked(0.5)
            ctrl.started()
            ctrl.finished("requeue_after", 0.5)

    (port,) = free_ports(1)
    runner = await serve_metrics(f"127.0.0.1:{port}", registry, [metrics.objects.render])
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _, empty = await scrape_times(url, 1)
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            base = series(await resp.read())
        for i in range(args.releases):
            record_object(metrics, "HelmRelease", f"release-{i}")
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            with_releases = series(await resp.read())
        for kind in KINDS[1:]:
            for i in range(args.sources):
                record_object(metrics, kind, f"{kind.lower()}-{i}")
        times, size = await scrape_times(url, args.scrapes)
    finally:
        await runner.cleanup()

    render_start = time.perf_counter()
    metrics.objects.render()
    render = time.perf_counter() - render_start
    per_release = (with_releases - base) / args.releases
    objects = args.releases + args.sources * (len(KINDS) - 1)
    ms = sorted(t * 1000 for t in times)
    print(f"fleet: {args.releases} HelmReleases + {args.sources} of each source kind = {objects}")
    print(f"series per release: {per_release:.0f} (9 condition, 1 suspend, 13 duration)")
    print(f"series in all: {series_total(with_releases, args, per_release)}")
    print(f"body: {size / 1024:.0f} KiB (without objects: {empty / 1024:.0f} KiB)")
    print(
        f"scrape over HTTP, {args.scrapes} scrapes: median {statistics.median(ms):.1f} ms, "
        f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, max {ms[-1]:.1f} ms"
    )
    print(f"rendering the per-object series alone: {render * 1000:.2f} ms")
    print(
        f"prometheus_client formatting {args.releases} releases' series itself: "
        f"{prometheus_client_time(args.releases) * 1000:.0f} ms"
    )


def series_total(with_releases: int, args: argparse.Namespace, per_release: float) -> int:
    return int(with_releases + args.sources * (len(KINDS) - 1) * per_release)


if __name__ == "__main__":
    asyncio.run(main())
