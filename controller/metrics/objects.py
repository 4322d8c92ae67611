"""Flux's per-object series: `gotk_reconcile_condition`, `gotk_suspend_status` and
`gotk_reconcile_duration_seconds`, with fluxcd/pkg's names, labels and buckets.

Unlike helm-controller, which registers the condition and suspend gauges but never sets them,
Helmward sets both on every reconcile of every kind. Each object's lines are rendered when that
object is recorded, so a scrape only joins them: with a fleet of a thousand objects a scrape costs
a join, not the formatting of twenty thousand samples (prometheus_client's `generate_latest`
takes about 180 ms for that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.metrics import text

STATUSES = ("True", "False", "Unknown")
CONDITION = "gotk_reconcile_condition"
SUSPEND = "gotk_suspend_status"
DURATION = "gotk_reconcile_duration_seconds"
HEADERS = {
    CONDITION: text.header(
        CONDITION, "gauge", "1 for the status each condition of the object has now, else 0."
    ),
    SUSPEND: text.header(SUSPEND, "gauge", "1 while the object is suspended, else 0."),
    DURATION: text.header(DURATION, "histogram", "Seconds each reconcile of the object took."),
}

ObjectKey = tuple[str, str, str]
"""(kind, name, namespace), the labels every per-object series carries."""


def exponential_range(low: float, high: float, count: int) -> tuple[float, ...]:
    """Prometheus' ExponentialBucketsRange: `count` buckets from `low` to `high`."""
    factor = (high / low) ** (1 / (count - 1))
    return (*(low * factor**i for i in range(count - 1)), high)


BUCKETS = exponential_range(10e-3, 1800, 10)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    observations: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.observations += 1


def _object_labels(key: ObjectKey) -> str:
    """In name order, as Prometheus' Go client writes them (`le` comes last, as there)."""
    kind, name, namespace = key
    return text.labels((("kind", kind), ("name", name), ("namespace", namespace)))


class ObjectSeries:
    """The three families for every object, each object's lines kept rendered."""

    def __init__(self) -> None:
        self._conditions: dict[ObjectKey, dict[str, str]] = {}
        self._histograms: dict[ObjectKey, _Histogram] = {}
        self._lines: dict[str, dict[ObjectKey, str]] = {name: {} for name in HEADERS}

    def record_condition(
        self, kind: str, name: str, namespace: str, type_: str, status: str
    ) -> None:
        key = (kind, name, namespace)
        conditions = self._conditions.setdefault(key, {})
        conditions[type_] = status
        base = _object_labels(key)
        self._lines[CONDITION][key] = "".join(
            text.sample(
                CONDITION,
                f"{base},{text.labels((('status', s), ('type', t)))}",
                1 if s == current else 0,
            )
            for t, current in conditions.items()
            for s in STATUSES
        )

    def record_suspend(self, kind: str, name: str, namespace: str, suspended: bool) -> None:
        key = (kind, name, namespace)
        self._lines[SUSPEND][key] = text.sample(SUSPEND, _object_labels(key), 1 if suspended else 0)

    def record_duration(self, kind: str, name: str, namespace: str, seconds: float) -> None:
        key = (kind, name, namespace)
        histogram = self._histograms.setdefault(key, _Histogram())
        histogram.observe(seconds)
        base = _object_labels(key)
        bounds = [*(text.value(b) for b in BUCKETS), "+Inf"]
        counts = [*histogram.counts, histogram.observations]
        self._lines[DURATION][key] = (
            "".join(
                text.sample(f"{DURATION}_bucket", f'{base},le="{bound}"', count)
                for bound, count in zip(bounds, counts, strict=True)
            )
            + text.sample(f"{DURATION}_count", base, histogram.observations)
            + text.sample(f"{DURATION}_sum", base, histogram.total)
        )

    def forget(self, kind: str, name: str, namespace: str) -> None:
        """Drop every series of a deleted object, so dashboards do not show ghosts."""
        key = (kind, name, namespace)
        self._conditions.pop(key, None)
        self._histograms.pop(key, None)
        for lines in self._lines.values():
            lines.pop(key, None)

    def render(self) -> bytes:
        parts: list[bytes] = []
        for name, lines in self._lines.items():
            if lines:
                parts.append(HEADERS[name])
                parts.append("".join(lines.values()).encode())
        return b"".join(parts)
