"""Failures keep their evidence: a failed upgrade that stored a release still returns the
observation, a release Helm never stored is not observed, and a cancel during a wait reaches
Helm's context and comes back with what Helm recorded."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from hack.testkit import charts
from hack.testkit.wait import eventually
from internal.helm import (
    ActionCancelledError,
    Engine,
    HelmError,
    HookFailedError,
    ReleaseExistsError,
    ReleaseNotFoundError,
    ValidationError,
    library,
)
from internal.helm.models import (
    ClusterTarget,
    InstallRequest,
)
from tests.engine.helpers import statuses
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"message": {"type": "string", "maxLength": 10}},
}


async def test_failed_upgrade_that_stored_a_release_returns_the_observation(
    releases: Releases,
) -> None:
    good = releases.configmap_chart()
    bad = releases.chart(
        version="0.2.0",
        templates={
            "configmap.yaml": charts.CONFIGMAP,
            "migrate.yaml": charts.hook_pod("migrate", "pre-upgrade", fail=True),
        },
    )
    await releases.install("up", good)

    with pytest.raises(HookFailedError) as failed:
        await releases.upgrade("up", bad, timeout=timedelta(minutes=1))
    exc = failed.value
    ops = statuses(exc.observations)
    assert ops[0] == ("create", 2, "pending-upgrade")
    assert ops[-1] == ("update", 2, "failed")
    last = exc.observations[-1].release
    assert last is not None
    [migrate] = [h for h in last.hooks if h.name == "migrate"]
    assert migrate.last_run is not None
    assert migrate.last_run.phase == "Failed"
    assert exc.result.release.version == 2
    assert exc.result.release.status == "failed"
    assert any("pre-upgrade" in line for line in exc.logs) or "pre-upgrade" in exc.message

    history = await releases.history("up")
    assert [(r.version, r.status) for r in history.result.releases] == [
        (1, "deployed"),
        (2, "failed"),
    ]
    assert history.result.releases[-1].digest == exc.observations[-1].digest


async def test_a_release_helm_never_stored_is_not_observed(releases: Releases) -> None:
    chart = releases.chart(templates={"configmap.yaml": charts.CONFIGMAP}, schema=SCHEMA)
    await releases.install("v", chart)
    with pytest.raises(ValidationError, match="schema") as invalid:
        await releases.upgrade("v", chart, values={"message": "far too long for the schema"})
    assert invalid.value.observations == []
    history = await releases.history("v")
    assert [r.version for r in history.result.releases] == [1]

    with pytest.raises(ReleaseExistsError):
        await releases.install("v", chart)
    with pytest.raises(ReleaseNotFoundError):
        await releases.upgrade("nobody", chart)


def _never_ready(root: Path, version: str = "0.1.0") -> Path:
    values = {**charts.DEFAULT_VALUES, "nodeSelector": {"helmward.io/no-such-node": "true"}}
    return charts.make_chart(root, name="stuck", version=version, values=values)


async def test_cancel_during_a_wait_reaches_helm(
    releases: Releases, engine: Engine, target: ClusterTarget, namespace: str, chart_root: Path
) -> None:
    chart = _never_ready(chart_root)
    cancel = asyncio.Event()
    request = InstallRequest(
        release_name="stuck", namespace=namespace, chart=chart, timeout=timedelta(minutes=5)
    )
    task = asyncio.create_task(engine.install(request, cluster=target, cancel=cancel))
    await asyncio.sleep(2)
    assert not task.done(), "the Deployment can never be ready: install must still wait"
    started = time.monotonic()
    cancel.set()
    with pytest.raises(ActionCancelledError) as cancelled:
        await task
    assert time.monotonic() - started < 15, "the cancel ended the wait"
    ops = statuses(cancelled.value.observations)
    assert ops[0] == ("create", 1, "pending-install")
    assert ops[-1] == ("update", 1, "failed")
    assert "context canceled" in cancelled.value.message

    # Cancelling the awaiting task does the same: Helm records the failure before the task ends.
    upgrade = asyncio.create_task(
        releases.upgrade("stuck", _never_ready(chart_root, "0.2.0"), timeout=timedelta(minutes=5))
    )
    await asyncio.sleep(2)
    upgrade.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upgrade
    history = await releases.history("stuck")
    assert [(r.version, r.status) for r in history.result.releases] == [
        (1, "failed"),
        (2, "failed"),
    ]

    async def idle() -> bool:
        return (await engine.stats()).inflight_calls == 1  # this stats call itself

    await eventually(idle, within=10, what="no call left running in the shim")


async def test_cancel_all_ends_running_calls_and_every_later_one(
    shim: library.Library, target: ClusterTarget, namespace: str, chart_root: Path
) -> None:
    engine = Engine(shim)  # its own: cancel_all is for good
    try:
        request = InstallRequest(
            release_name="stuck",
            namespace=namespace,
            chart=_never_ready(chart_root),
            timeout=timedelta(minutes=5),
        )
        task = asyncio.create_task(engine.install(request, cluster=target))
        await asyncio.sleep(2)
        assert not task.done()
        assert not engine.cancelling
        started = time.monotonic()
        engine.cancel_all()
        assert engine.cancelling
        with pytest.raises(ActionCancelledError) as cancelled:
            await task
        assert time.monotonic() - started < 15
        assert statuses(cancelled.value.observations)[-1] == ("update", 1, "failed")
        later = InstallRequest(
            release_name="later",
            namespace=namespace,
            chart=_never_ready(chart_root, "0.2.0"),
            timeout=timedelta(minutes=5),
        )
        with pytest.raises(ActionCancelledError):
            await asyncio.wait_for(engine.install(later, cluster=target), 15)
    finally:
        engine.close()


UNKNOWN_FIELD = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-typo
data:
  a: "1"
dataa:
  b: "2"
"""


async def test_an_unknown_manifest_field_is_refused_by_the_servers_field_validation(
    releases: Releases,
) -> None:
    """The API server (1.27 and later) validates fields itself, strictly: the engine fetches no
    OpenAPI document to decide that, and a typo in a manifest still fails the install, naming
    the field."""
    chart = releases.chart(templates={"configmap.yaml": UNKNOWN_FIELD})
    before = await releases.engine.stats()
    with pytest.raises(HelmError, match=r"dataa") as refused:
        await releases.install("typo", chart, timeout=timedelta(minutes=1))
    after = await releases.engine.stats()
    assert "unknown field" in refused.value.message or "not declared" in refused.value.message
    assert after.requests.openapi == before.requests.openapi
    assert statuses(refused.value.observations)[-1] == ("update", 1, "failed")
