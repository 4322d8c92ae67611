"""HelmRelease fields end to end through `helmward run`, for the field ledger: a chart template
asking for signature verification (the generated HelmChart carries `verify`, fails closed:
Stalled, VerificationNotSupported, no artifact; the release waits on it and installs
nothing), and spec.interval (the next reconcile of a release comes after it)."""

from __future__ import annotations

import asyncio
import re

import pytest

from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS
from tests.e2e.conftest import Harness
from tests.e2e.conftest import controller_flags as controller_flags  # the fixtures, reused
from tests.e2e.conftest import harness as harness
from tests.sources.conftest import cond

pytestmark = pytest.mark.sources


async def test_a_release_asking_to_verify_its_chart_installs_nothing(harness: Harness) -> None:
    h = harness
    spec = h.chart_spec()
    spec["chart"]["spec"]["verify"] = {"provider": "cosign"}
    await h.apply_release("signed", spec)

    async def waiting_on_verify() -> dict[str, str] | None:
        # First the HelmChart has no artifact yet; once it is reconciled, it says why not.
        conditions = (await h.get("signed")).get("status", {}).get("conditions", [])
        ready = next((c for c in conditions if c["type"] == "Ready"), None)
        return ready if ready and "spec.verify" in ready["message"] else None

    ready = await eventually(waiting_on_verify, within=60, what="signed waits on spec.verify")
    assert (ready["status"], ready["reason"]) == ("False", "SourceNotReady"), ready
    assert "is not ready" in ready["message"], ready
    assert "spec.verify (keyless or notation signature verification" in ready["message"], ready

    chart = await rest.request(
        h.kube, "GET", HELM_CHARTS.path(h.namespace, f"{h.namespace}-signed")
    )
    assert chart["spec"]["verify"]["provider"] == "cosign"
    assert cond(chart, "Stalled")["reason"] == "VerificationNotSupported"
    assert "artifact" not in chart["status"]

    await asyncio.sleep(3)  # nothing installs it later either
    storage = await rest.request(
        h.kube,
        "GET",
        f"/api/v1/namespaces/{h.namespace}/secrets",
        query={"labelSelector": "owner=helm,name=signed"},
    )
    assert storage.get("items") == []
    obj = await h.get("signed")
    assert obj["status"].get("history") in (None, [])


def _reconciles(metrics: str, namespace: str, name: str) -> float:
    """How many reconciles of the release the controller's histogram has counted."""
    labels = f'kind="HelmRelease",name="{name}",namespace="{namespace}"'
    pattern = rf"^gotk_reconcile_duration_seconds_count\{{{re.escape(labels)}\}} (\S+)$"
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found[1]) if found else 0.0


async def test_a_release_is_reconciled_again_after_its_interval(harness: Harness) -> None:
    """In sync, a release with interval 2s is reconciled about every 2s (jittered by 5%); one
    with interval 1h is not, but for a wake-up from its HelmChart at most."""
    h = harness
    await h.apply_release("often", {**h.chart_spec(version="1.0.0"), "interval": "2s"})
    await h.apply_release("seldom", {**h.chart_spec(version="1.0.0"), "interval": "1h"})
    await h.wait("often", "Ready", "True")
    await h.wait("seldom", "Ready", "True")
    await asyncio.sleep(1)  # anything the install itself queued has run
    before = await h.metrics()
    await asyncio.sleep(8)
    after = await h.metrics()
    often = _reconciles(after, h.namespace, "often") - _reconciles(before, h.namespace, "often")
    seldom = _reconciles(after, h.namespace, "seldom") - _reconciles(before, h.namespace, "seldom")
    assert 3 <= often <= 5, often
    assert seldom <= 1, seldom
