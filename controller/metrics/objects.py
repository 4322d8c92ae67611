"""Flux's per-object series: `gotk_reconcile_condition`, `gotk_suspend_status` and
`gotk_reconcile_duration_seconds`, with fluxcd/pkg's names, labels and buckets.

Unlike helm-controller, which registers the condition and suspend gauges but never sets them,
Helmward sets both on every reconcile of every kind. Each object keeps only its values (its
conditions' statuses, whether it is suspended, its histogram's counts), and a scrape writes the
text straight from them: rendered lines kept per object cost about 3 KiB each, 6 MiB for a fleet
of a thousand releases and their charts, while writing them on a scrape takes about 50 ms
(prometheus_client's `generate_latest` would take about 180 ms for the same samples).
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
    """The three families for every object: each object's values, written out on a scrape in
    the order the objects were first recorded."""

    def __init__(self) -> None:
        self._conditions: dict[ObjectKey, dict[str, str]] = {}
        self._suspended: dict[ObjectKey, bool] = {}
        self._histograms: dict[ObjectKey, _Histogram] = {}

    def record_condition(
        self, kind: str, name: str, namespace: str, type_: str, status: str
    ) -> None:
        self._conditions.setdefault((kind, name, namespace), {})[type_] = status

    def record_suspend(self, kind: str, name: str, namespace: str, suspended: bool) -> None:
        self._suspended[(kind, name, namespace)] = suspended

    def record_duration(self, kind: str, name: str, namespace: str, seconds: float) -> None:
        self._histograms.setdefault((kind, name, namespace), _Histogram()).observe(seconds)

    def forget(self, kind: str, name: str, namespace: str) -> None:
        """Drop every series of a deleted object, so dashboards do not show ghosts."""
        key = (kind, name, namespace)
        self._conditions.pop(key, None)
        self._suspended.pop(key, None)
        self._histograms.pop(key, None)

    def render(self) -> bytes:
        labels = _LabelCache()
        families = (
            (CONDITION, [_condition_lines(labels(k), c) for k, c in self._conditions.items()]),
            (
                SUSPEND,
                [text.sample(SUSPEND, labels(k), int(s)) for k, s in self._suspended.items()],
            ),
            (DURATION, [_duration_lines(labels(k), h) for k, h in self._histograms.items()]),
        )
        parts: list[bytes] = []
        for name, lines in families:
            if lines:
                parts.append(HEADERS[name])
                parts.append("".join(lines).encode())
        return b"".join(parts)


class _LabelCache(dict[ObjectKey, str]):
    """One scrape's label text per object: each object is in up to three families."""

    def __call__(self, key: ObjectKey) -> str:
        found = self.get(key)
        if found is None:
            found = self[key] = _object_labels(key)
        return found


BOUNDS = (*(text.value(b) for b in BUCKETS), "+Inf")


def _condition_lines(base: str, conditions: dict[str, str]) -> str:
    return "".join(
        text.sample(
            CONDITION,
            f"{base},{text.labels((('status', s), ('type', t)))}",
            1 if s == current else 0,
        )
        for t, current in conditions.items()
        for s in STATUSES
    )


def _duration_lines(base: str, histogram: _Histogram) -> str:
    # A scrape writes thirteen of these per object: one f-string each, no helper calls.
    counts = (*histogram.counts, histogram.observations)
    buckets = "".join(
        f'{DURATION}_bucket{{{base},le="{bound}"}} {float(count)!r}\n'
        for bound, count in zip(BOUNDS, counts, strict=True)
    )
    return (
        buckets
        + text.sample(f"{DURATION}_count", base, histogram.observations)
        + text.sample(f"{DURATION}_sum", base, histogram.total)
    )
