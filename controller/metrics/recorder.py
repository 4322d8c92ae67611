"""What the reconcilers record: Flux's per-object series, and Helmward's own under `helmward_`.

Helmward's own have no per-object label, so a fleet grows only the `gotk_` series (9 condition
series, 1 suspend series and 13 duration series per object).
"""

from __future__ import annotations

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from controller.metrics.objects import BUCKETS, ObjectSeries
from controller.metrics.requests import RequestCounts
from internal.helm import models as hm

FETCH_RESULTS = ("downloaded", "cached", "failed")
DROP_REASONS = ("backlog", "undelivered")
DEPENDENCY_RESULTS = ("built", "reused")


class Recorder:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created doubles series
        self.objects = ObjectSeries()
        self.actions = Counter(
            "helmward_actions_total",
            "Helm actions run, by the kind of the object released, the action and its result.",
            ["kind", "action", "result"],
            registry=registry,
        )
        self.action_duration = Histogram(
            "helmward_action_duration_seconds",
            "Seconds each Helm action took, health checks included.",
            ["kind", "action"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.fetches = Counter(
            "helmward_artifact_fetches_total",
            "Chart artifacts asked for by releases: downloaded, found in the cache, or failed.",
            ["result"],
            registry=registry,
        )
        self.fetched_bytes = Counter(
            "helmward_artifact_fetched_bytes_total",
            "Bytes of chart artifacts downloaded.",
            registry=registry,
        )
        self.dependency_builds = Counter(
            "helmward_dependency_builds_total",
            "Dependency sets of charts packaged from Git and Bucket sources: built by Helm, or "
            "reused from the artifact storage.",
            ["result"],
            registry=registry,
        )
        self.events_dropped = Counter(
            "helmward_events_dropped_total",
            "Events not delivered to --events-addr: too many waiting (backlog), or given up "
            "on after retries (undelivered).",
            ["reason"],
            registry=registry,
        )
        self.engine_heap = Gauge(
            "helmward_engine_heap_bytes",
            "Bytes of the Helm engine's Go heap in use (sampled).",
            registry=registry,
        )
        self.engine_inflight = Gauge(
            "helmward_engine_inflight_calls",
            "Helm engine calls running now (sampled).",
            registry=registry,
        )
        # The engine is a Go runtime inside this process; its figures carry the Go names, so
        # dashboards that read go_info and go_memstats_alloc_bytes of a controller work.
        self.go_info = Gauge(
            "go_info", "The Go runtime of the Helm engine.", ["version"], registry=registry
        )
        self.go_alloc = Gauge(
            "go_memstats_alloc_bytes",
            "Bytes allocated and in use on the Helm engine's Go heap (sampled).",
            registry=registry,
        )
        self.go_goroutines = Gauge(
            "go_goroutines", "Goroutines of the Helm engine (sampled).", registry=registry
        )
        self.requests = RequestCounts()
        registry.register(self.requests)
        for result in FETCH_RESULTS:
            self.fetches.labels(result).inc(0)
        for reason in DROP_REASONS:
            self.events_dropped.labels(reason).inc(0)
        for result in DEPENDENCY_RESULTS:
            self.dependency_builds.labels(result).inc(0)

    def record_condition(
        self, kind: str, name: str, namespace: str, type_: str, status: str
    ) -> None:
        self.objects.record_condition(kind, name, namespace, type_, status)

    def record_suspend(self, kind: str, name: str, namespace: str, suspended: bool) -> None:
        self.objects.record_suspend(kind, name, namespace, suspended)

    def record_duration(self, kind: str, name: str, namespace: str, seconds: float) -> None:
        self.objects.record_duration(kind, name, namespace, seconds)

    def forget(self, kind: str, name: str, namespace: str) -> None:
        self.objects.forget(kind, name, namespace)

    def record_action(self, kind: str, action: str, failed: bool, seconds: float) -> None:
        self.actions.labels(kind, action, "failure" if failed else "success").inc()
        self.action_duration.labels(kind, action).observe(seconds)

    def record_fetch(self, result: str, size: int = 0) -> None:
        self.fetches.labels(result).inc()
        if size:
            self.fetched_bytes.inc(size)

    def record_dependency_build(self, result: str) -> None:
        self.dependency_builds.labels(result).inc()

    def record_dropped_event(self, reason: str) -> None:
        self.events_dropped.labels(reason).inc()

    def record_engine(self, stats: hm.Stats) -> None:
        self.engine_heap.set(stats.heap_alloc_bytes)
        self.engine_inflight.set(stats.inflight_calls)
        self.go_alloc.set(stats.heap_alloc_bytes)
        self.go_goroutines.set(stats.goroutines)
        if stats.go_version:
            self.go_info.labels(stats.go_version).set(1)
        self.requests.engine = tuple(stats.requests.by_result)


_default: Recorder | None = None


def default() -> Recorder:
    """The process's recorder on the default registry, made once."""
    global _default
    if _default is None:
        _default = Recorder()
    return _default
