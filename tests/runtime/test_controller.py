"""A controller waits for the other informers its reconciles read, but not for ever."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio.client import ApiClient
from prometheus_client import CollectorRegistry

from controller.runtime import controller as controller_module
from controller.runtime.controller import Controller, Result
from controller.runtime.informer import Informer
from controller.runtime.metrics import RuntimeMetrics
from internal.kube.resources import HELM_RELEASES, SECRETS


async def started_after(others_listed: bool, monkeypatch: pytest.MonkeyPatch) -> float:
    """Seconds from the controller's start to its first reconcile."""
    monkeypatch.setattr(controller_module, "WAIT_FOR_OTHERS", 0.3)
    api = ApiClient()
    own, other = Informer(api, HELM_RELEASES), Informer(api, SECRETS)
    own.synced.set()
    reconciled = asyncio.Event()

    async def reconcile(key: str) -> Result:
        reconciled.set()
        return Result()

    c = Controller(
        "Test",
        own,
        reconcile,
        workers=1,
        waits_for=[other],
        runtime_metrics=RuntimeMetrics(CollectorRegistry()),
    )
    c.enqueue("ns/a")
    start = asyncio.get_running_loop().time()
    task = asyncio.create_task(c.run())
    if others_listed:
        await asyncio.sleep(0.1)
        other.synced.set()
    await asyncio.wait_for(reconciled.wait(), 5)
    took = asyncio.get_running_loop().time() - start
    c.stop()
    await task
    await api.close()
    return took


async def test_the_first_reconcile_waits_for_the_other_informers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    took = await started_after(True, monkeypatch)
    assert 0.1 <= took < 0.3


async def test_an_informer_that_never_lists_holds_the_controller_only_so_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    took = await started_after(False, monkeypatch)
    assert 0.3 <= took < 1.0
