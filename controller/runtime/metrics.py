"""controller-runtime's controller and work-queue metrics, with its names, labels and buckets, so
the dashboards written for Flux's controllers read Helmward's the same way.

A controller is labelled with its kind in lower case, as controller-runtime's builder names it
(`helmrelease`, `gitrepository`, ...); a queue carries that name as both `name` and `controller`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RESULTS = ("error", "requeue_after", "requeue", "success")
RECONCILE_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7),
    *(0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15),
    *(20, 25, 30, 40, 50, 60),
)
QUEUE_BUCKETS = tuple(1e-8 * 10**i for i in range(12))
"""client-go's ExponentialBuckets(10e-9, 10, 12): 10 ns to 1000 s."""


class Busy(Protocol):
    """What a work queue tells the scrape-time gauges: when each key in process started."""

    def processing_since(self) -> list[float]: ...


class RuntimeMetrics:
    """The families, registered once per registry; one `ControllerSeries` per controller."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        ctrl = ["controller"]
        queue = ["name", "controller"]
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Reconciles finished, by controller and result.",
            ["controller", "result"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Reconciles that ended in an error, by controller.",
            ctrl,
            registry=registry,
        )
        self.reconcile_panics = Counter(
            "controller_runtime_reconcile_panics_total",
            "Reconciles that raised unexpectedly, by controller (always 0: errors are caught).",
            ctrl,
            registry=registry,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Seconds each reconcile took, by controller.",
            ctrl,
            buckets=RECONCILE_BUCKETS,
            registry=registry,
        )
        self.max_concurrent = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Workers of each controller (its --concurrent).",
            ctrl,
            registry=registry,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Workers reconciling now, by controller.",
            ctrl,
            registry=registry,
        )
        self.depth = Gauge(
            "workqueue_depth",
            "Keys waiting in the queue, or queued again while in process.",
            queue,
            registry=registry,
        )
        self.adds = Counter(
            "workqueue_adds_total",
            "Keys added to the queue (an add of a key already waiting is not counted).",
            queue,
            registry=registry,
        )
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "Seconds a key waited in the queue before a worker took it.",
            queue,
            buckets=QUEUE_BUCKETS,
            registry=registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "Seconds a worker spent on a key.",
            queue,
            buckets=QUEUE_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "workqueue_retries_total",
            "Keys queued again after a failed reconcile, with backoff.",
            queue,
            registry=registry,
        )
        self.busy: dict[str, Busy] = {}
        registry.register(_BusyGauges(self.busy))

    def controller(self, kind: str, workers: int) -> ControllerSeries:
        return ControllerSeries(self, kind.lower(), workers)


class ControllerSeries:
    """The series of one controller and its queue, set to zero at start as controller-runtime
    does, so a rate over them exists before the first reconcile."""

    def __init__(self, families: RuntimeMetrics, name: str, workers: int) -> None:
        self.families = families
        self.name = name
        for result in RESULTS:
            families.reconcile_total.labels(name, result).inc(0)
        families.reconcile_errors.labels(name).inc(0)
        families.reconcile_panics.labels(name).inc(0)
        families.max_concurrent.labels(name).set(workers)
        families.active_workers.labels(name).set(0)
        self._depth = families.depth.labels(name, name)
        self._depth.set(0)
        self._adds = families.adds.labels(name, name)
        self._adds.inc(0)
        self._retries = families.retries.labels(name, name)
        self._retries.inc(0)
        self._queued = families.queue_duration.labels(name, name)
        self._worked = families.work_duration.labels(name, name)
        self._reconciled = families.reconcile_time.labels(name)
        self._active = families.active_workers.labels(name)

    def watch(self, queue: Busy) -> None:
        self.families.busy[self.name] = queue

    def added(self, depth: int) -> None:
        self._adds.inc()
        self._depth.set(depth)

    def taken(self, waited: float, depth: int) -> None:
        self._queued.observe(waited)
        self._depth.set(depth)

    def worked(self, seconds: float) -> None:
        self._worked.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()

    def started(self) -> None:
        self._active.inc()

    def finished(self, result: str, seconds: float) -> None:
        self._active.dec()
        self._reconciled.observe(seconds)
        self.families.reconcile_total.labels(self.name, result).inc()
        if result == "error":
            self.families.reconcile_errors.labels(self.name).inc()


class _BusyGauges(Collector):
    """workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds, read
    from the queues at scrape time rather than ticked."""

    def __init__(self, busy: dict[str, Busy]) -> None:
        self.busy = busy

    def collect(self) -> Iterator[GaugeMetricFamily]:
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "Seconds spent so far on the keys in process now, summed.",
            labels=["name", "controller"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "Seconds the longest-running key in process has taken so far.",
            labels=["name", "controller"],
        )
        now = time.monotonic()
        for name, queue in self.busy.items():
            running = [now - since for since in queue.processing_since()]
            unfinished.add_metric([name, name], sum(running))
            longest.add_metric([name, name], max(running, default=0.0))
        yield unfinished
        yield longest


_default: RuntimeMetrics | None = None


def default() -> RuntimeMetrics:
    """The process's families on the default registry (controller-runtime's are global too)."""
    global _default
    if _default is None:
        _default = RuntimeMetrics()
    return _default
