"""Every query of Flux's monitoring dashboards, and of Helmward's own, answered by a real
Prometheus scraping Helmward (and kube-state-metrics with Flux's custom-resource configuration,
for `gotk_resource_info`, as in Flux's set-up)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hack.monitoring.dashboard import OUT as DASHBOARD
from hack.monitoring.dashboard import dashboard, queries
from hack.testkit.kube import create_helm_repository
from hack.testkit.kube_state_metrics import running_kube_state_metrics
from hack.testkit.ports import free_ports
from hack.testkit.prometheus import Prometheus, ScrapeTarget
from tests.e2e.conftest import Harness
from tests.monitoring import flux_queries
from tests.monitoring.conftest import OPERATOR_NAMESPACE, has_data, metric_names, scraping

pytestmark = pytest.mark.e2e

KSM = {"namespace": "monitoring", "pod": "kube-state-metrics-0"}
NAME = re.compile(r"\b([a-z_]+_(?:total|seconds|bytes|info|status|condition|calls|depth)\w*)\b")


def test_the_dashboard_file_is_the_generated_one() -> None:
    assert json.loads(DASHBOARD.read_text()) == dashboard()


async def _check(prom: Prometheus, exprs: list[str]) -> dict[str, int]:
    """Series each query returns; fails on the first that returns none within a minute."""
    return {expr: len(await has_data(prom, expr)) for expr in exprs}


async def test_every_dashboard_query_returns_data(harness: Harness, tmp_path: Path) -> None:
    h = harness
    spec = {**h.chart_spec(), "test": {"enable": True}}
    await h.apply_release("ready", spec)
    await h.apply_release("failing", {**spec, "values": {"failTest": True}})
    await h.apply_release("paused", {**spec, "suspend": True})
    (closed,) = free_ports(1)
    await create_helm_repository(h.kube, h.namespace, f"http://127.0.0.1:{closed}/", name="down")
    assert h.controller is not None
    async with running_kube_state_metrics(h.kubeconfig, tmp_path) as ksm:
        ksm_target = ScrapeTarget(ksm.url.split("//")[1].split("/")[0], KSM, job="ksm")
        async with scraping(h, [ksm_target]) as prom:
            await h.wait("ready", "Ready", "True")
            await h.wait("failing", "Ready", "False", within=120)

            cluster = [
                flux_queries.substituted(q, OPERATOR_NAMESPACE, h.namespace)
                for q in flux_queries.CLUSTER
            ]
            control = [
                flux_queries.substituted(q, OPERATOR_NAMESPACE, OPERATOR_NAMESPACE)
                for q in flux_queries.CONTROL_PLANE
                if q not in flux_queries.ANSWERED_ELSEWHERE
            ]
            answered = await _check(prom, cluster + control)
            for expr, count in answered.items():
                print(f"{count:3d} series  {expr}")
            for query, why in flux_queries.ANSWERED_ELSEWHERE.items():
                expr = flux_queries.substituted(query, OPERATOR_NAMESPACE, OPERATOR_NAMESPACE)
                assert await prom.query(expr) == [], expr
                print(f"  none: {why}: {expr}")

            ours = queries(dashboard())
            for expr, count in (await _check(prom, ours)).items():
                print(f"{count:3d} series  {expr}")
            exported = await metric_names(h.controller.metrics_url)
            used = {m.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                    for expr in ours for m in NAME.findall(expr)}  # fmt: skip
            assert used - exported == set(), "the dashboard reads metrics Helmward lacks"
