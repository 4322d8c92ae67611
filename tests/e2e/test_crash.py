"""SIGKILL of the controller in the middle of an upgrade: the release is left pending-upgrade
(locked); a new controller unlocks it and converges on the desired state."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import signal
import subprocess

import pytest
from kubernetes_asyncio import client

from hack.testkit.wait import eventually
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


def _statuses(h: Harness, release: str) -> list[str]:
    out = subprocess.run(
        [
            str(h.helm),
            "history",
            release,
            "-n",
            h.namespace,
            "-o",
            "json",
            "--kubeconfig",
            str(h.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [r["status"] for r in json.loads(out)] if out.strip() else []


async def test_killed_mid_upgrade_unlocks_and_converges(harness: Harness) -> None:
    h = harness
    base = {**h.chart_spec(version="1.0.0"), "upgrade": {"timeout": "10m"}}
    await h.apply_release("crash", {**base, "values": {"message": "a"}})
    await h.wait("crash", "Ready", "True")

    # The post-upgrade hook pod never completes: Helm waits, the release stays pending.
    await h.apply_release("crash", {**base, "values": {"message": "b", "hang": True}})

    async def pending() -> bool:
        return "pending-upgrade" in _statuses(h, "crash")

    await eventually(pending, within=60, what="release pending-upgrade")
    assert h.controller is not None
    h.controller.send_signal(signal.SIGKILL)
    await h.controller.wait()
    assert _statuses(h, "crash")[-1] == "pending-upgrade", "the kill left the release locked"

    await h.apply_release("crash", {**base, "values": {"message": "c"}})
    async with h.restart():
        obj = await h.wait("crash", "Ready", "True", within=120)
        await eventually(
            lambda: _async(obj["status"]["history"][0]["status"] == "deployed"),
            within=5,
            what="deployed",
        )
        assert (await h.config("crash"))["message"] == "c"
        statuses = _statuses(h, "crash")
        assert "pending-upgrade" not in statuses
        assert "failed" in statuses, statuses  # the unlocked revision
        await _delete(h)


async def _delete(h: Harness) -> None:
    from tests.e2e.conftest import _delete_releases

    await _delete_releases(h)


async def _async(value: bool) -> bool:
    await asyncio.sleep(0)
    return value


async def test_an_uninstall_cut_short_is_unlocked_and_converges(harness: Harness) -> None:
    """A controller killed mid-uninstall (a remediation, say) leaves the record `uninstalling`
    and part of the objects gone; Helm can neither upgrade nor install that. The next reconcile
    unlocks it (marked failed) and upgrades, so the release converges (found by hack/chaos)."""
    h = harness
    await h.apply_release("cut", {**h.chart_spec(version="1.0.0"), "values": {"message": "a"}})
    await h.wait("cut", "Ready", "True")
    core = client.CoreV1Api(h.kube)
    name = "sh.helm.release.v1.cut.v1"
    secret = await core.read_namespaced_secret(name, h.namespace)
    raw = base64.b64decode(base64.b64decode(secret.data["release"]))
    rel = json.loads(gzip.decompress(raw))
    rel["info"]["status"] = "uninstalling"
    encoded = base64.b64encode(gzip.compress(json.dumps(rel).encode()))
    await core.patch_namespaced_secret(
        name,
        h.namespace,
        {
            "metadata": {"labels": {"status": "uninstalling"}},
            "data": {"release": base64.b64encode(encoded).decode()},
        },
    )
    await core.delete_namespaced_config_map("cut-config", h.namespace)

    await h.apply_release("cut", {**h.chart_spec(version="1.0.0"), "values": {"message": "b"}})

    async def upgraded() -> bool:
        status = (await h.get("cut")).get("status") or {}
        latest = (status.get("history") or [{}])[0]
        return (latest.get("version"), latest.get("status")) == (2, "deployed")

    await eventually(upgraded, within=120, what="revision 2 deployed")
    await h.wait("cut", "Ready", "True")
    assert (await h.config("cut"))["message"] == "b"
    assert _statuses(h, "cut") == ["superseded", "deployed"]  # unlocked, then upgraded
    await _delete(h)
