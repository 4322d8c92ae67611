"""Alerting on release status end to end: Helmward's metrics scraped by Prometheus with the
shipped rules, a HelmRelease made to fail (its test hook fails) fires HelmReleaseNotReady,
Alertmanager delivers it to a webhook, and fixing the release resolves it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.testkit.alertmanager import running_alertmanager
from hack.testkit.webhook import Received, running_receiver
from tests.e2e.conftest import Harness
from tests.monitoring.conftest import RULES, scraping, shipped_rules

pytestmark = pytest.mark.e2e


def alert_of(received: Received, status: str, name: str) -> dict[str, Any] | None:
    body = received.body
    if received.path != "/alerts" or body.get("status") != status:
        return None
    return next(
        (
            a
            for a in body.get("alerts", [])
            if a["labels"].get("alertname") == "HelmReleaseNotReady"
            and a["labels"].get("name") == name
            and a["status"] == status
        ),
        None,
    )


def test_prometheusrule_carries_the_groups_of_rules_yaml() -> None:
    rule = yaml.safe_load((RULES.parent / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout


async def test_a_failing_release_fires_and_its_fix_resolves(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    spec = {**h.chart_spec(), "test": {"enable": True}}
    await h.apply_release("healthy", spec)
    await h.apply_release("failing", {**spec, "values": {"failTest": True}})
    rules = shipped_rules(tmp_path, HelmReleaseNotReady="2s")
    async with (
        running_receiver() as receiver,
        running_alertmanager(tmp_path, f"{receiver.url}/alerts") as am,
        scraping(h, rule_files=[rules], alertmanager_url=am.url),
    ):
        await h.wait("healthy", "Ready", "True")
        failed = await h.wait("failing", "Ready", "False", within=120)
        print("failing:", [c["reason"] for c in failed["status"]["conditions"]])
        firing = await receiver.wait_for(
            lambda r: alert_of(r, "firing", "failing") is not None, timeout=90
        )
        print("firing payload:", json.dumps(firing.body, indent=2))
        alert = alert_of(firing, "firing", "failing")
        assert alert is not None
        assert alert["labels"]["exported_namespace"] == h.namespace
        assert alert["labels"]["severity"] == "warning"
        assert alert["annotations"]["summary"] == "HelmRelease failing is not ready"
        assert not [r for r in receiver.received if alert_of(r, "firing", "healthy")]

        await h.apply_release("failing", {**spec, "values": {"failTest": False}})
        await h.wait("failing", "Ready", "True", within=120)
        resolved = await receiver.wait_for(
            lambda r: alert_of(r, "resolved", "failing") is not None, timeout=90
        )
        print("resolved payload:", json.dumps(resolved.body, indent=2))
        done = alert_of(resolved, "resolved", "failing")
        assert done is not None
        assert done["endsAt"] > done["startsAt"]
