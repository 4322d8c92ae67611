"""A HelmRelease whose chart template asks for signature verification, end to end through
`helmward run`: the generated HelmChart carries `verify`, fails closed (Stalled,
VerificationNotSupported, no artifact), and the release waits on it: nothing is installed."""

from __future__ import annotations

import asyncio

import pytest

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
    obj = await h.wait("signed", "Ready", "False", reason="SourceNotReady")
    ready = cond(obj, "Ready")
    assert "is not ready" in ready["message"], ready
    assert "spec.verify (signature verification)" in ready["message"], ready

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
