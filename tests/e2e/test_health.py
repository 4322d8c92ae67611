"""healthCheckExprs end to end: a custom health check gates Ready, and a failed one fails the
upgrade into its remediation. The chart's ConfigMap stands in for a custom resource."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json

pytestmark = pytest.mark.e2e

CHECKS = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "current": "data.message == 'healthy'",
        "failed": "data.message == 'broken'",
    }
]


async def test_a_failed_health_check_fails_the_upgrade(harness: Harness) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "healthCheckExprs": CHECKS,
        "timeout": "30s",
        "upgrade": {"remediation": {"retries": 1}},
        "values": {"message": "healthy"},
    }
    await h.apply_release("checked", spec)
    await h.wait("checked", "Ready", "True")

    await h.apply_release("checked", {**spec, "values": {"message": "broken"}})
    obj = await h.wait("checked", "Remediated", "True", reason="RollbackSucceeded", within=120)
    released = next(c for c in obj["status"]["conditions"] if c["type"] == "Released")
    assert released["reason"] == "UpgradeFailed"
    assert (
        "health check failed: ConfigMap/checked-config failed its health check"
        in (released["message"])
    )
    history = helm_json(h, "history", "checked")
    assert [(r["revision"], r["status"]) for r in history] == [
        (1, "superseded"),
        (2, "failed"),
        (3, "deployed"),
    ], history
    assert history[1]["description"].startswith("health check failed")
    assert (await h.config("checked"))["message"] == "healthy"


async def test_an_expression_that_does_not_compile_stalls(harness: Harness) -> None:
    h = harness
    bad = [{"apiVersion": "v1", "kind": "ConfigMap", "current": "data.("}]
    await h.apply_release("typo", {**h.chart_spec(), "healthCheckExprs": bad})
    obj = await h.wait("typo", "Stalled", "True", reason="InvalidHealthCheck")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "InvalidHealthCheck"
    assert "healthCheckExprs v1/ConfigMap current 'data.(' does not compile" in ready["message"]
    assert not helm_json(h, "list"), "nothing is installed"
