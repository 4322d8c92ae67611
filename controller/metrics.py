"""Prometheus metrics with Flux's names and labels, so existing alerts keep working.

Unlike helm-controller, which registers `gotk_reconcile_condition` and `gotk_suspend_status`
but never sets them, Helmward sets both on every reconcile.
"""

from __future__ import annotations

import contextlib

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram, disable_created_metrics

STATUSES = ("True", "False", "Unknown")


def _exponential_range(low: float, high: float, count: int) -> list[float]:
    factor = (high / low) ** (1 / (count - 1))
    return [*(low * factor**i for i in range(count - 1)), high]


class Recorder:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created doubles series
        self.condition = Gauge(
            "gotk_reconcile_condition",
            "The current condition status of a GitOps Toolkit resource reconciliation.",
            ["kind", "name", "namespace", "type", "status"],
            registry=registry,
        )
        self.suspend = Gauge(
            "gotk_suspend_status",
            "The current suspend status of a GitOps Toolkit resource.",
            ["kind", "name", "namespace"],
            registry=registry,
        )
        self.duration = Histogram(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            ["kind", "name", "namespace"],
            buckets=_exponential_range(10e-3, 1800, 10),
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
        self._types: dict[tuple[str, str, str], set[str]] = {}

    def record_condition(
        self, kind: str, name: str, namespace: str, type_: str, status: str
    ) -> None:
        self._types.setdefault((kind, name, namespace), set()).add(type_)
        for s in STATUSES:
            self.condition.labels(kind, name, namespace, type_, s).set(1 if s == status else 0)

    def record_suspend(self, kind: str, name: str, namespace: str, suspended: bool) -> None:
        self.suspend.labels(kind, name, namespace).set(1 if suspended else 0)

    def record_duration(self, kind: str, name: str, namespace: str, seconds: float) -> None:
        self.duration.labels(kind, name, namespace).observe(seconds)

    def forget(self, kind: str, name: str, namespace: str) -> None:
        """Drop every series of a deleted object, so dashboards do not show ghosts."""
        for type_ in self._types.pop((kind, name, namespace), set()):
            for s in STATUSES:
                self.condition.remove(kind, name, namespace, type_, s)
        for metric in (self.suspend, self.duration):
            with contextlib.suppress(KeyError):
                metric.remove(kind, name, namespace)
