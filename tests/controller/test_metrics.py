"""Flux's metric names and labels, set and forgotten."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from controller.metrics import Recorder


def test_condition_gauge_marks_exactly_one_status() -> None:
    reg = CollectorRegistry()
    r = Recorder(reg)
    r.record_condition("HelmRelease", "podinfo", "apps", "Ready", "False")

    def value(status: str) -> float | None:
        return reg.get_sample_value(
            "gotk_reconcile_condition",
            {
                "kind": "HelmRelease",
                "name": "podinfo",
                "namespace": "apps",
                "type": "Ready",
                "status": status,
            },
        )

    assert (value("True"), value("False"), value("Unknown")) == (0, 1, 0)
    r.record_condition("HelmRelease", "podinfo", "apps", "Ready", "True")
    assert (value("True"), value("False"), value("Unknown")) == (1, 0, 0)


def test_duration_buckets_span_10ms_to_30m_and_forget_removes_series() -> None:
    reg = CollectorRegistry()
    r = Recorder(reg)
    r.record_duration("HelmRelease", "a", "ns", 0.5)
    r.record_suspend("HelmRelease", "a", "ns", True)
    r.record_condition("HelmRelease", "a", "ns", "Ready", "True")
    text = generate_latest(reg).decode()
    assert 'gotk_reconcile_duration_seconds_bucket{kind="HelmRelease",le="0.01"' in text
    assert 'le="1800.0"' in text
    assert 'gotk_suspend_status{kind="HelmRelease",name="a",namespace="ns"} 1.0' in text
    r.forget("HelmRelease", "a", "ns")
    text = generate_latest(reg).decode()
    assert 'name="a"' not in text
