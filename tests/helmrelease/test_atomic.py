"""The atomic loop against the fake engine: the sequence of actions one reconcile runs, and
what the next reconcile does after a failure."""

from __future__ import annotations

from typing import Any

import pytest

import api
from api.digests import digest
from api.helmrelease import HelmRelease
from controller.helmrelease import inputs
from controller.helmrelease.actions import Request
from controller.helmrelease.atomic import run_atomic
from controller.helmrelease.work import Retry, Work
from internal.helm import models as hm
from tests.helmrelease.conftest import Harness, release_object
from tests.helmrelease.fakeengine import Failure

DIGESTS = hm.DigestResult(values=digest({"replicas": 1}), post_renderers="", common_metadata="")


async def reconcile(harness: Harness, raw: dict[str, Any], work: Work | None = None) -> Work:
    req = harness.request(raw, work)
    await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    return req.work


def new_chart_version(harness: Harness) -> None:
    harness.lib.chart = ("app", "1.1.0")
    harness.info = harness.info.model_copy(update={"metadata": {"name": "app", "version": "1.1.0"}})


def next_work(work: Work) -> Work:
    """The object as the next reconcile reads it: the status this one wrote."""
    raw = {**work.raw, "status": work.status.to_wire(exclude_unset=False)}
    hr = api.parse(raw)
    assert isinstance(hr, HelmRelease)
    return Work.of(raw, hr)


async def failed_upgrade(harness: Harness) -> tuple[dict[str, Any], Request]:
    """A release with one upgrade retry, installed, then upgraded to a new chart version with
    an upgrade that times out: the object and the request of that failed reconcile."""
    raw = release_object(upgrade={"remediation": {"retries": 1}})
    req = harness.request(raw, next_work(await reconcile(harness, raw)))
    new_chart_version(harness)
    harness.lib.fail["upgrade"] = Failure("Timeout", "wait timed out")
    with pytest.raises(Retry):
        await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    return raw, req


def reasons(work: Work) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in work.events]


async def test_a_clean_install_with_tests_is_one_revision_and_ready(harness: Harness) -> None:
    work = await reconcile(harness, release_object(test={"enable": True}))
    assert harness.lib.history("app") == [(1, "deployed")]
    assert reasons(work) == [("Normal", "InstallSucceeded"), ("Normal", "TestSucceeded")]
    ready = next(c for c in work.status.conditions or [] if c.type == "Ready")
    assert (ready.status.value, ready.reason) == ("True", "TestSucceeded")
    assert work.status.observed_generation == 1
    assert [c.type for c in work.status.conditions or []] == ["Ready", "Released", "TestSuccess"]


async def test_an_in_sync_release_makes_no_call_but_reads(harness: Harness) -> None:
    raw = release_object()
    work = await reconcile(harness, raw)
    harness.lib.calls.clear()
    again = await reconcile(harness, raw, next_work(work))
    assert harness.lib.calls == ["get", "get"], "the known version, then the next one probed"
    assert again.events == []
    assert harness.lib.history("app") == [(1, "deployed")]


async def test_a_failed_upgrade_is_rolled_back_on_the_next_reconcile(harness: Harness) -> None:
    raw, req = await failed_upgrade(harness)
    assert harness.lib.history("app") == [(1, "deployed"), (2, "failed")]
    assert req.work.status.upgrade_failures == 1
    req = harness.request(raw, next_work(req.work))
    with pytest.raises(Retry, match="requeue-backoff"):  # a retry left: the upgrade again later
        await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    assert harness.lib.history("app") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert reasons(req.work) == [("Normal", "RollbackSucceeded")]


async def test_a_rollback_target_changed_in_storage_is_not_rolled_back_to(
    harness: Harness,
) -> None:
    raw, req = await failed_upgrade(harness)
    harness.lib.releases[("app", 1)]["digest"] = "sha256:tampered"
    req = harness.request(raw, next_work(req.work))
    await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    assert harness.lib.history("app")[-1] == (3, "deployed")
    assert ("Normal", "UpgradeSucceeded") in reasons(req.work), "corrupt target: upgrade instead"


async def test_a_shutdown_cancel_starts_no_next_action(harness: Harness) -> None:
    # An install that ends as the shutdown's grace runs out: its outcome is recorded, and the
    # tests that would follow it in this reconcile do not start.
    raw = release_object(test={"enable": True})
    call = harness.lib.call

    def cancelled_during_install(call_id: int, request: bytes) -> bytes:
        answer = call(call_id, request)
        if harness.lib.calls[-1] == "install":
            harness.engine.cancel_all()
        return answer

    harness.lib.call = cancelled_during_install  # type: ignore[method-assign]
    req = harness.request(raw)
    with pytest.raises(Retry, match="the controller is shutting down"):
        await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    assert harness.lib.calls[-1] == "install", harness.lib.calls
    assert "test" not in harness.lib.calls
    assert harness.lib.history("app") == [(1, "deployed")]
    released = next(c for c in req.work.status.conditions or [] if c.type == "Released")
    assert (released.status.value, released.reason) == ("True", "InstallSucceeded")
    assert [h.version for h in req.work.status.history or []] == [1]
    assert reasons(req.work) == [("Normal", "InstallSucceeded")]


async def test_without_a_shutdown_the_tests_follow_the_install(harness: Harness) -> None:
    req = harness.request(release_object(test={"enable": True}))
    await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS))
    assert "test" in harness.lib.calls
