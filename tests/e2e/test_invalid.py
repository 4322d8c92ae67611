"""A HelmRelease the API server accepts but the models reject: Ready=False and Stalled=True
with the field and what is wrong, one Warning event, nothing installed; fixed, it installs."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json

pytestmark = pytest.mark.e2e

# The CRD's pattern lets it through; as a Go duration it overflows (Flux cannot decode it).
TOO_LONG = "99999999h"


async def test_an_interval_out_of_range_stalls_with_the_validation_message(
    harness: Harness,
) -> None:
    h = harness
    await h.apply_release("odd", {**h.chart_spec(version="1.0.0"), "interval": TOO_LONG})
    obj = await h.wait("odd", "Stalled", "True", reason="InvalidSpec")
    conds = {c["type"]: c for c in obj["status"]["conditions"]}
    ready = conds["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"] == (
        "Reconciliation failed terminally due to configuration error: "
        f"spec.interval: invalid duration '{TOO_LONG}': out of range"
    )
    assert "Reconciling" not in conds
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

    async def warnings() -> list[tuple[str, int]] | None:
        # Events are written after the status, so the Stalled condition can be seen first.
        events = await client.CoreV1Api(h.kube).list_namespaced_event(
            h.namespace, field_selector="involvedObject.name=odd"
        )
        return [(e.reason, e.count) for e in events.items if e.type == "Warning"] or None

    assert await eventually(warnings, within=10, what="odd's Warning") == [("InvalidSpec", 1)]
    assert helm_json(h, "list") == []

    await h.apply_release("odd", h.chart_spec(version="1.0.0"))
    obj = await h.wait("odd", "Ready", "True")
    assert "Stalled" not in {c["type"] for c in obj["status"]["conditions"]}
