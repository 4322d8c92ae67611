"""Hooks through the engine: weights order them, delete policies clean them up, and test hooks
report their phase and times whether they pass or fail (KWOK fails pods on a label)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kubernetes_asyncio import client

from hack.testkit import charts
from internal.helm import HookFailedError
from internal.helm.models import (
    Release,
    TestFilter,
)
from tests.engine.helpers import gone
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

TIMEOUT = timedelta(minutes=2)


def hook(rel: Release, name: str) -> tuple[str, object, object]:
    [h] = [h for h in rel.hooks if h.name == name]
    assert h.last_run is not None, f"hook {name} never ran"
    return h.last_run.phase, h.last_run.started_at, h.last_run.completed_at


async def test_pre_and_post_hooks_follow_weights_and_delete_policies(
    releases: Releases, namespace: str, core: client.CoreV1Api, kube: client.ApiClient
) -> None:
    batch = client.BatchV1Api(kube)
    chart = releases.chart(
        templates={
            "configmap.yaml": charts.CONFIGMAP,
            "pre-late.yaml": charts.hook_configmap("pre-late", "pre-install,pre-upgrade", weight=5),
            "pre-early.yaml": charts.hook_configmap(
                "pre-early", "pre-install", weight=-5, delete_policy="hook-succeeded"
            ),
            "pre-job.yaml": charts.hook_job(
                "pre-job", "pre-install", weight=0, delete_policy="hook-succeeded"
            ),
            "post-pod.yaml": charts.hook_pod("post-pod", "post-install", weight=1),
        }
    )
    out = await releases.install("hooks", chart, timeout=TIMEOUT)
    rel = out.result.release
    assert rel is not None
    assert rel.status == "deployed"

    early, job, late, post = (
        hook(rel, n) for n in ("pre-early", "pre-job", "pre-late", "post-pod")
    )
    assert [p for p, _, _ in (early, job, late, post)] == ["Succeeded"] * 4
    # Weights order the pre-install hooks; post-install runs after all of them.
    assert early[1] < job[1] < late[1] < post[1]  # type: ignore[operator]
    assert job[2] <= late[1]  # type: ignore[operator]

    # Helm records each hook as Running when it starts: the observations show it.
    running = [
        h.name
        for o in out.observations
        if o.release is not None
        for h in o.release.hooks
        if h.last_run is not None and h.last_run.phase == "Running"
    ]
    assert {"pre-early", "pre-job", "pre-late", "post-pod"} <= set(running)

    # hook-succeeded removed the early ConfigMap and the Job; the default policy
    # (before-hook-creation) leaves the others in place.
    await gone(core.read_namespaced_config_map, "pre-early", namespace, what="pre-early")
    await gone(batch.read_namespaced_job, "pre-job", namespace, what="pre-job")
    late_cm = await core.read_namespaced_config_map("pre-late", namespace)
    pod = await core.read_namespaced_pod("post-pod", namespace)
    assert pod.status.phase == "Succeeded"
    assert "pre-late" not in rel.manifest, "hooks are not part of the release manifest"

    # On upgrade, before-hook-creation deletes the old pre-late and creates it again.
    up = await releases.upgrade("hooks", chart, timeout=TIMEOUT)
    assert up.result.release is not None
    assert hook(up.result.release, "pre-late")[0] == "Succeeded"
    again = await core.read_namespaced_config_map("pre-late", namespace)
    assert again.metadata.uid != late_cm.metadata.uid


async def test_test_hooks_pass_fail_and_always_shut_down(
    releases: Releases, namespace: str, core: client.CoreV1Api
) -> None:
    chart = releases.chart(
        templates={
            "configmap.yaml": charts.CONFIGMAP,
            "test-smoke.yaml": charts.hook_pod("smoke", "test", delete_policy="hook-succeeded"),
            "test-broken.yaml": charts.hook_pod(
                "broken", "test", weight=1, delete_policy="hook-failed", fail=True
            ),
            "test-kept.yaml": charts.hook_pod("kept", "test", weight=2),
        }
    )
    await releases.install("tested", chart)

    passed = await releases.test(
        "tested", timeout=TIMEOUT, filters=[TestFilter(name="smoke"), TestFilter(name="kept")]
    )
    assert [(t.name, t.phase) for t in passed.result.tests] == [
        ("smoke", "Succeeded"),
        ("kept", "Succeeded"),
    ]
    for t in passed.result.tests:
        assert t.started_at is not None
        assert t.completed_at is not None
        assert t.started_at <= t.completed_at
    assert passed.result.shutdown_error is None
    # The shutdown applied hook-succeeded to smoke; kept has no policy and stays.
    await gone(core.read_namespaced_pod, "smoke", namespace, what="the smoke test pod")
    kept = await core.read_namespaced_pod("kept", namespace)
    assert kept.status.phase == "Succeeded"
    # The phases are stored with the release.
    assert passed.observations, "test results are written to storage"
    last = passed.observations[-1].release
    assert last is not None
    assert hook(last, "smoke")[0] == "Succeeded"

    with pytest.raises(HookFailedError) as failed:
        await releases.test(
            "tested",
            timeout=TIMEOUT,
            filters=[
                TestFilter(name="smoke", exclude=True),
                TestFilter(name="kept", exclude=True),
            ],
        )
    result = failed.value.result
    assert [(t.name, t.phase) for t in result.tests] == [("broken", "Failed")]
    assert result.tests[0].started_at is not None
    assert result.tests[0].completed_at is not None
    assert "broken" in failed.value.message
    # Even though the test failed, the shutdown ran and applied hook-failed.
    await gone(core.read_namespaced_pod, "broken", namespace, what="the failed test pod")

    stored = await releases.get("tested")
    assert hook(stored.result.release, "broken")[0] == "Failed"
    assert hook(stored.result.release, "smoke")[0] == "Succeeded"
