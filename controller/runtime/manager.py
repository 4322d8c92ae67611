"""The manager: shared informers, controllers, leader election, endpoints, graceful shutdown.

Only the leader runs controllers; every replica serves health. On stop, controllers take no new
keys and in-flight reconciles (Helm actions) get `graceful_shutdown_timeout` to finish; then the
`cancellers` cancel the Helm actions still running (Helm marks them failed, the reconciles record
it), so no release is left locked by a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from controller.runtime.controller import Controller
from controller.runtime.health import Exposition, serve_health, serve_metrics
from controller.runtime.informer import Informer, Obj
from controller.runtime.leader import LeaderElector
from internal.kube.resources import Resource

log = logging.getLogger(__name__)

InformerKey = tuple[Resource, str | None, str | None, bool, Callable[[Obj], Obj] | None]

CANCEL_GRACE = 30.0
"""Seconds the reconciles get to record their cancelled actions once the grace ran out."""


@dataclass(frozen=True)
class Options:
    health_addr: str | None = ":9440"
    metrics_addr: str | None = ":8080"
    leader_elect: bool = False
    leader_election_namespace: str = "flux-system"
    leader_election_id: str = "helmward-leader-election"
    graceful_shutdown_timeout: float = 600.0
    watch_namespace: str | None = None
    watch_label_selector: str | None = None
    resync_period: float | None = 10 * 60.0


class Manager:
    def __init__(self, api: ApiClient, options: Options) -> None:
        self.api = api
        self.options = options
        self.controllers: list[Controller] = []
        self._informers: dict[InformerKey, Informer] = {}
        self.elector = (
            LeaderElector(api, options.leader_election_namespace, options.leader_election_id)
            if options.leader_elect
            else None
        )
        self.started = asyncio.Event()
        self.expositions: list[Exposition] = []
        self._running: set[int] = set()
        self._late: list[asyncio.Task[None]] = []
        self.cancellers: list[Callable[[], None]] = []
        """Called when the graceful shutdown times out, before the reconciles are cancelled."""
        self.cancel_grace = CANCEL_GRACE

    def informer(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        sharded: bool = True,
        metadata_only: bool = False,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> Informer:
        """The one informer for this resource and selector, shared by all who ask. A sharded
        one sees only the shard's objects (--watch-label-selector) among those `label_selector`
        selects; an unsharded one sees every object `label_selector` selects."""
        shard = self.options.watch_label_selector if sharded else None
        selector = ",".join(s for s in (shard, label_selector) if s) or None
        key = (resource, self.options.watch_namespace, selector, metadata_only, transform)
        if key not in self._informers:
            self._informers[key] = Informer(
                self.api,
                resource,
                namespace=self.options.watch_namespace,
                label_selector=selector,
                resync_period=self.options.resync_period,
                metadata_only=metadata_only,
                transform=transform,
            )
        return self._informers[key]

    def run_informer(self, informer: Informer) -> None:
        """Start an informer made after the manager started (a kind a release just applied);
        one made before starts with the others."""
        if not self.started.is_set() or id(informer) in self._running:
            return
        self._running.add(id(informer))
        self._late.append(asyncio.create_task(informer.run()))

    async def _cancel_in_flight(self, pending: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
        """The grace ran out: the `cancellers` end what the reconciles wait on (the Helm
        engine's calls), so the reconciles can record the failure; those still busy after
        `cancel_grace` are cancelled by the caller."""
        if not self.cancellers:
            return pending
        for cancel in self.cancellers:
            cancel()
        _, still = await asyncio.wait(pending, timeout=self.cancel_grace)
        return still

    def add(self, controller: Controller) -> None:
        self.controllers.append(controller)

    def store_sizes(self) -> list[tuple[str, int]]:
        """Each informer's resource (and selector) with the number of objects it holds."""
        informers = {
            id(i): i for i in [*self._informers.values(), *(c.informer for c in self.controllers)]
        }
        return [
            (
                f"{i.resource.plural}{' ' + i.label_selector if i.label_selector else ''}",
                len(i.store),
            )
            for i in informers.values()
        ]

    def ready(self) -> bool:
        informers = [*self._informers.values(), *(c.informer for c in self.controllers)]
        return self.started.is_set() and all(i.synced.is_set() for i in informers)

    async def run(self, stop: asyncio.Event) -> None:
        runners: list[web.AppRunner] = []
        if self.options.health_addr:
            runners.append(await serve_health(self.options.health_addr, self.ready))
        if self.options.metrics_addr:
            runners.append(await serve_metrics(self.options.metrics_addr, extra=self.expositions))
        try:
            await self._run_as_leader(stop)
        finally:
            for runner in runners:
                await runner.cleanup()

    async def _run_as_leader(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        lost: asyncio.Task[None] | None = None
        if self.elector:
            acquired = asyncio.create_task(self.elector.acquire())
            await asyncio.wait({acquired, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not acquired.done():
                acquired.cancel()
                return
            lost = asyncio.create_task(self.elector.hold())

        shared = {
            id(i): i for i in [*self._informers.values(), *(c.informer for c in self.controllers)]
        }
        informers = [asyncio.create_task(i.run()) for i in shared.values()]
        self._running = set(shared)
        workers = [asyncio.create_task(c.run(), name=c.name) for c in self.controllers]
        self.started.set()
        watched = {stopped, *workers} | ({lost} if lost else set())
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopped}:
            if task is not lost and task.exception():
                log.error("controller %s ended: %s", task.get_name(), task.exception())

        for c in self.controllers:
            c.stop()
        # Leadership lost: another replica may already lead, so in-flight actions are cut at
        # once rather than given the graceful shutdown (two actors on one release otherwise).
        grace = 0.0 if lost in done else self.options.graceful_shutdown_timeout
        _, pending = await asyncio.wait(workers, timeout=grace)
        if pending:
            log.warning("graceful shutdown timed out with %d controllers busy", len(pending))
            pending = await self._cancel_in_flight(pending)
        late = list(self._late)
        for task in [*pending, *informers, *late, stopped, *([lost] if lost else [])]:
            task.cancel()
        for task in [*pending, *informers, *late]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.elector:
            await self.elector.release()
