"""`--no-cross-namespace-refs`: a chart source in another namespace (the HelmChart a template
makes there, or a chartRef) is refused as Flux refuses it, Stalled AccessDenied with nothing
installed; a source in the release's own namespace still installs."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS
from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json

pytestmark = pytest.mark.e2e


@pytest.fixture
def controller_flags() -> tuple[str, ...]:
    return ("--no-cross-namespace-refs",)


async def warnings(h: Harness, name: str) -> list[str]:
    events = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector=f"involvedObject.name={name}"
    )
    return [e.reason for e in events.items if e.type == "Warning"]


async def assert_denied(h: Harness, name: str, message: str) -> None:
    obj = await h.wait(name, "Stalled", "True", reason="AccessDenied")
    conds = {c["type"]: c for c in obj["status"]["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "AccessDenied")
    assert conds["Ready"]["message"] == message
    assert conds["Stalled"]["message"] == message
    assert "Reconciling" not in conds

    async def warned() -> list[str] | None:
        # Events are written after the status, so the Stalled condition can be seen first.
        found = await warnings(h, name)
        return found or None

    assert await eventually(warned, within=10, what=f"{name}'s Warning event") == ["AccessDenied"]


async def test_a_chart_template_from_another_namespace_is_refused(
    harness: Harness, elsewhere: str
) -> None:
    h = harness
    spec = h.chart_spec(version="1.0.0")
    spec["chart"]["spec"]["sourceRef"]["namespace"] = elsewhere
    await h.apply_release("far", spec)
    await assert_denied(
        h,
        "far",
        "cross-namespace references are not allowed: "
        f"cannot access HelmChart {elsewhere}/{h.namespace}-far",
    )
    chart = await rest.get_optional(h.kube, HELM_CHARTS.path(elsewhere, f"{h.namespace}-far"))
    assert chart is None, "no HelmChart made in the other namespace"
    assert helm_json(h, "list") == []


async def test_a_chart_ref_to_another_namespace_is_refused(
    harness: Harness, elsewhere: str
) -> None:
    h = harness
    ref = {"kind": "OCIRepository", "name": "charts", "namespace": elsewhere}
    await h.apply_release("ref", {"chartRef": ref, "interval": "5m"})
    await assert_denied(
        h,
        "ref",
        "cross-namespace references are not allowed: "
        f"cannot access OCIRepository {elsewhere}/charts",
    )
    assert helm_json(h, "list") == []


async def test_a_source_in_the_own_namespace_installs_with_the_flag(harness: Harness) -> None:
    h = harness
    await h.apply_release("near", h.chart_spec(version="1.0.0"))
    await h.wait("near", "Ready", "True")
    assert [r["name"] for r in helm_json(h, "list")] == ["near"]
