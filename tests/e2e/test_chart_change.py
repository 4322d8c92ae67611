"""A release whose chart changes: another chart name reinstalls (or, with InPlaceUpdate,
upgrades); a generated HelmChart the spec no longer makes is deleted."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS
from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json

pytestmark = pytest.mark.e2e


def revisions(h: Harness, name: str) -> list[tuple[int, str, str]]:
    return [
        (int(str(r["revision"])), str(r["chart"]), str(r["status"]))
        for r in helm_json(h, "history", name)
    ]


async def released_chart(h: Harness, name: str, chart: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await h.get(name)
        status = obj.get("status") or {}
        history = status.get("history") or []
        ready = [
            c
            for c in status.get("conditions") or []
            if c["type"] == "Ready" and c["status"] == "True"
        ]
        return obj if history and history[0]["chartName"] == chart and ready else None

    return await eventually(probe, within=90, what=f"{name} released from chart {chart}")


async def test_another_chart_name_reinstalls_by_default(harness: Harness) -> None:
    h = harness
    await h.apply_release("swap", h.chart_spec("demo", "1.0.0"))
    await h.wait("swap", "Ready", "True")
    assert revisions(h, "swap") == [(1, "demo-1.0.0", "deployed")]

    await h.apply_release("swap", h.chart_spec("other", "1.0.0"))
    obj = await released_chart(h, "swap", "other")

    # As Flux: the old release uninstalled, then a fresh install (revision 1).
    assert revisions(h, "swap") == [(1, "other-1.0.0", "deployed")]
    history = obj["status"]["history"]
    assert [(s["version"], s["action"], s["chartName"]) for s in history] == [
        (1, "install", "other")
    ]
    events = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector="involvedObject.name=swap"
    )
    assert "UninstallSucceeded" in {e.reason for e in events.items}


async def test_in_place_update_upgrades_to_another_chart_name(harness: Harness) -> None:
    h = harness
    in_place = {"chartNameChangeStrategy": "InPlaceUpdate"}
    spec = {**h.chart_spec("demo", "1.0.0"), "upgrade": in_place}
    await h.apply_release("keep", spec)
    await h.wait("keep", "Ready", "True")

    await h.apply_release("keep", {**spec, **h.chart_spec("other", "1.0.0")})
    await released_chart(h, "keep", "other")

    assert revisions(h, "keep") == [
        (1, "demo-1.0.0", "superseded"),
        (2, "other-1.0.0", "deployed"),
    ]


async def chart_exists(h: Harness, namespace: str, name: str) -> bool:
    return await rest.get_optional(h.kube, HELM_CHARTS.path(namespace, name)) is not None


async def test_a_moved_source_namespace_deletes_the_old_helm_chart(
    harness: Harness, elsewhere: str
) -> None:
    h = harness
    chart = f"{h.namespace}-mover"
    spec = h.chart_spec("demo", "1.0.0")
    await h.apply_release("mover", spec)
    obj = await h.wait("mover", "Ready", "True")
    assert obj["status"]["helmChart"] == f"{h.namespace}/{chart}"

    spec["chart"]["spec"]["sourceRef"]["namespace"] = elsewhere
    await h.apply_release("mover", spec)

    async def moved() -> bool:
        status = (await h.get("mover"))["status"]
        return status.get("helmChart") == f"{elsewhere}/{chart}" and not await chart_exists(
            h, h.namespace, chart
        )

    await eventually(moved, within=60, what="the HelmChart moved")
    assert await chart_exists(h, elsewhere, chart)


async def test_moving_to_a_chart_ref_deletes_the_generated_helm_chart(harness: Harness) -> None:
    h = harness
    generated = f"{h.namespace}-switch"
    await h.apply_release("switch", h.chart_spec("demo", "1.0.0"))
    await h.wait("switch", "Ready", "True")
    assert await chart_exists(h, h.namespace, generated)

    # A HelmChart of the same chart, made by hand, for the chartRef.
    own = {
        "apiVersion": HELM_CHARTS.api_version,
        "kind": "HelmChart",
        "metadata": {"name": "by-hand", "namespace": h.namespace},
        "spec": {
            "chart": "demo",
            "version": "1.0.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
            "interval": "1m",
        },
    }
    await rest.request(h.kube, "POST", HELM_CHARTS.path(h.namespace), body=own)
    await h.apply_release(
        "switch", {"chartRef": {"kind": "HelmChart", "name": "by-hand"}, "interval": "5m"}
    )

    async def gone() -> bool:
        status = (await h.get("switch"))["status"]
        return "helmChart" not in status and not await chart_exists(h, h.namespace, generated)

    await eventually(gone, within=60, what="the generated HelmChart deleted")
    obj = await h.wait("switch", "Ready", "True")
    assert obj["status"]["history"][0]["chartName"] == "demo"
