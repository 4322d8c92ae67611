"""Flux's and controller-runtime's metric names and labels, set and forgotten."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controller.metrics import Recorder
from controller.metrics.objects import ObjectSeries
from controller.runtime.controller import Controller, Result
from controller.runtime.informer import Informer
from controller.runtime.metrics import RuntimeMetrics
from hack.testkit.wait import eventually
from internal.helm import models as hm
from internal.kube.resources import HELM_RELEASES

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, parsed by prometheus_client's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labelled(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


async def _done(flag: bool) -> bool:
    return flag


def test_condition_gauge_marks_exactly_one_status() -> None:
    series = ObjectSeries()
    series.record_condition("HelmRelease", "podinfo", "apps", "Ready", "False")
    obj = {"kind": "HelmRelease", "name": "podinfo", "namespace": "apps", "type": "Ready"}

    def values() -> tuple[float, ...]:
        got = samples(series.render().decode())
        return tuple(
            got[("gotk_reconcile_condition", labelled(**obj, status=s))]
            for s in ("True", "False", "Unknown")
        )

    assert values() == (0, 1, 0)
    series.record_condition("HelmRelease", "podinfo", "apps", "Ready", "True")
    assert values() == (1, 0, 0)


def test_duration_buckets_span_10ms_to_30m_and_forget_removes_series() -> None:
    series = ObjectSeries()
    series.record_duration("HelmRelease", "a", "ns", 0.5)
    series.record_duration("HelmRelease", "a", "ns", 2000)
    series.record_suspend("HelmRelease", "a", "ns", True)
    series.record_condition("HelmRelease", "a", "ns", "Ready", "True")
    got = samples(series.render().decode())
    obj = {"kind": "HelmRelease", "name": "a", "namespace": "ns"}
    bucket = "gotk_reconcile_duration_seconds_bucket"
    assert got[(bucket, labelled(**obj, le="0.01"))] == 0
    assert got[(bucket, labelled(**obj, le="1800.0"))] == 1
    assert got[(bucket, labelled(**obj, le="+Inf"))] == 2
    assert got[("gotk_reconcile_duration_seconds_count", labelled(**obj))] == 2
    assert got[("gotk_reconcile_duration_seconds_sum", labelled(**obj))] == 2000.5
    assert got[("gotk_suspend_status", labelled(**obj))] == 1
    assert len(got) == 3 + 1 + 13  # one condition type here; a release records three
    series.record_condition("GitRepository", "b", "ns", "Ready", "True")
    series.forget("HelmRelease", "a", "ns")
    assert 'name="a"' not in series.render().decode()
    assert 'name="b"' in series.render().decode()


def test_rendered_text_matches_prometheus_client_for_the_same_samples() -> None:
    """The hand-written exposition parses to what prometheus_client's own would."""
    series = ObjectSeries()
    for i in range(3):
        for type_ in ("Ready", "Reconciling", "Stalled"):
            series.record_condition("HelmRelease", f"r{i}", "ns", type_, "True")
        series.record_suspend("HelmRelease", f"r{i}", "ns", False)
        series.record_duration("HelmRelease", f"r{i}", "ns", 1.5)
    got = samples(series.render().decode())
    assert len(got) == 3 * (9 + 1 + 13)
    families = {f.name: f.type for f in text_string_to_metric_families(series.render().decode())}
    assert families == {
        "gotk_reconcile_condition": "gauge",
        "gotk_suspend_status": "gauge",
        "gotk_reconcile_duration_seconds": "histogram",
    }


def test_a_scrape_writes_each_objects_current_values_in_first_recorded_order() -> None:
    series = ObjectSeries()
    series.record_suspend("HelmRelease", "b", "ns", False)
    series.record_suspend("HelmRelease", "a", "ns", False)
    series.record_suspend("HelmRelease", "b", "ns", True)
    series.record_duration("HelmRelease", "a", "ns", 0.02)
    series.forget("HelmRelease", "b", "ns")
    series.record_suspend("HelmRelease", "b", "ns", False)
    bucket = 'gotk_reconcile_duration_seconds_bucket{kind="HelmRelease",name="a",namespace="ns"'
    assert series.render().decode().splitlines() == [
        "# HELP gotk_suspend_status 1 while the object is suspended, else 0.",
        "# TYPE gotk_suspend_status gauge",
        'gotk_suspend_status{kind="HelmRelease",name="a",namespace="ns"} 0.0',
        'gotk_suspend_status{kind="HelmRelease",name="b",namespace="ns"} 0.0',
        "# HELP gotk_reconcile_duration_seconds Seconds each reconcile of the object took.",
        "# TYPE gotk_reconcile_duration_seconds histogram",
        f'{bucket},le="0.01"}} 0.0',
        *(
            f'{bucket},le="{le}"}} 1.0'
            for le in (
                "0.038363583488692544",
                "0.1471764538093883",
                "0.5646216173286169",
                "2.1660908555907006",
                "8.309900738254731",
                "31.87975707547831",
                "122.3021722164349",
                "469.1949594673653",
                "1800.0",
                "+Inf",
            )
        ),
        'gotk_reconcile_duration_seconds_count{kind="HelmRelease",name="a",namespace="ns"} 1.0',
        'gotk_reconcile_duration_seconds_sum{kind="HelmRelease",name="a",namespace="ns"} 0.02',
    ]


def test_helmward_series_have_no_object_label() -> None:
    reg = CollectorRegistry()
    r = Recorder(reg)
    r.record_action("HelmRelease", "install", False, 1.0)
    r.record_action("HelmRelease", "upgrade", True, 2.0)
    r.record_fetch("downloaded", 2048)
    r.record_fetch("cached")
    r.record_dropped_event("backlog")
    r.record_engine(
        hm.Stats.model_validate(
            {
                "cachedTargets": 1,
                "inflightCalls": 2,
                "goroutines": 30,
                "heapAllocBytes": 4096,
                "heapSysBytes": 8192,
                "totalCalls": 5,
                "goVersion": "go1.26.0",
                "requests": {
                    "discovery": 0,
                    "openapi": 0,
                    "other": 3,
                    "discoveryCacheHits": 0,
                    "byResult": [{"code": "201", "method": "POST", "host": "h:1", "count": 3}],
                },
            }
        )
    )
    got = samples(generate_latest(reg).decode())

    def value(name: str, **labels: str) -> float:
        return got[(name, labelled(**labels))]

    hr = "HelmRelease"
    assert value("helmward_actions_total", kind=hr, action="install", result="success") == 1
    assert value("helmward_actions_total", kind=hr, action="upgrade", result="failure") == 1
    assert value("helmward_action_duration_seconds_count", kind=hr, action="upgrade") == 1
    assert value("helmward_artifact_fetches_total", result="downloaded") == 1
    assert value("helmward_artifact_fetches_total", result="cached") == 1
    assert value("helmward_artifact_fetches_total", result="failed") == 0
    assert value("helmward_artifact_fetched_bytes_total") == 2048
    assert value("helmward_events_dropped_total", reason="backlog") == 1
    assert value("helmward_engine_heap_bytes") == 4096
    assert value("go_info", version="go1.26.0") == 1
    assert value("go_memstats_alloc_bytes") == 4096
    assert value("rest_client_requests_total", code="201", method="POST", host="h:1") == 3
    assert not [k for k in got if ("name", "a") in k[1]]


async def test_controller_and_queue_series_count_as_controller_runtime_does() -> None:
    reg = CollectorRegistry()
    families = RuntimeMetrics(reg)
    informer = Informer(None, HELM_RELEASES)  # type: ignore[arg-type]  # never run
    informer.synced.set()
    calls: list[str] = []

    async def reconcile(key: str) -> Result:
        calls.append(key)
        if key == "ns/boom":
            raise RuntimeError("boom")
        if key == "ns/failed":
            return Result(requeue_after=60, failed=True)
        if key == "ns/later":
            return Result(requeue_after=60)
        await asyncio.sleep(0.05)
        return Result()

    controller = Controller("HelmRelease", informer, reconcile, workers=2, runtime_metrics=families)
    for key in ("ns/ok", "ns/ok", "ns/boom", "ns/failed", "ns/later"):
        controller.enqueue(key)
    run = asyncio.create_task(controller.run())
    await eventually(lambda: _done(len(calls) >= 4), within=10, what="four reconciles")
    await asyncio.sleep(0.1)
    controller.stop()
    await run
    got = samples(generate_latest(reg).decode())
    hr = {"controller": "helmrelease"}
    queue = {"name": "helmrelease", "controller": "helmrelease"}

    def total(result: str) -> float:
        return got[("controller_runtime_reconcile_total", labelled(**hr, result=result))]

    assert (total("success"), total("error"), total("requeue_after"), total("requeue")) == (
        1,
        2,
        1,
        0,
    )
    assert got[("controller_runtime_reconcile_errors_total", labelled(**hr))] == 2
    assert got[("controller_runtime_max_concurrent_reconciles", labelled(**hr))] == 2
    assert got[("controller_runtime_active_workers", labelled(**hr))] == 0
    assert got[("controller_runtime_reconcile_time_seconds_count", labelled(**hr))] == 4
    assert got[("workqueue_adds_total", labelled(**queue))] == 4  # one ns/ok deduplicated
    assert got[("workqueue_retries_total", labelled(**queue))] == 1  # the raise backs off
    assert got[("workqueue_work_duration_seconds_count", labelled(**queue))] == 4
    assert got[("workqueue_queue_duration_seconds_count", labelled(**queue))] == 4
    assert got[("workqueue_longest_running_processor_seconds", labelled(**queue))] == 0
    assert got[("workqueue_unfinished_work_seconds", labelled(**queue))] == 0
    assert ("workqueue_depth", labelled(**queue)) in got
