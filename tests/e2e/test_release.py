"""HelmReleases end to end: install, upgrade on values, test failure remediation, deletion."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


def helm_json(h: Harness, *args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [str(h.helm), *args, "-n", h.namespace, "-o", "json", "--kubeconfig", str(h.kubeconfig)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


async def test_install_then_upgrade_on_values_change(harness: Harness) -> None:
    h = harness
    await h.apply_release("web", {**h.chart_spec(version="1.0.0"), "values": {"message": "one"}})
    obj = await h.wait("web", "Ready", "True")
    status = obj["status"]
    released = next(c for c in status["conditions"] if c["type"] == "Released")
    assert released["reason"] == "InstallSucceeded"
    assert status["history"][0]["status"] == "deployed"
    assert status["history"][0]["chartVersion"] == "1.0.0"
    assert status["lastAttemptedReleaseAction"] == "install"
    assert (await h.config("web"))["message"] == "one"
    releases = helm_json(h, "list")
    assert [(r["name"], r["status"]) for r in releases] == [("web", "deployed")]

    await h.apply_release("web", {**h.chart_spec(version="1.0.0"), "values": {"message": "two"}})
    obj = await h.wait("web", "Released", "True", reason="UpgradeSucceeded")
    assert obj["status"]["history"][0]["version"] == 2
    assert (await h.config("web"))["message"] == "two"
    history = helm_json(h, "history", "web")
    assert [r["status"] for r in history] == ["superseded", "deployed"]
