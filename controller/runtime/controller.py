"""A controller: one informer feeding one work queue, drained by N workers.

A reconcile returns how long to wait before the next one, or raises to be retried with
exponential backoff. Other informers can enqueue keys here through `enqueue` (a HelmRelease is
woken when its source or its values ConfigMap changes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from api.duration import format_duration
from controller.logs import reconciling
from controller.runtime import metrics
from controller.runtime.informer import Informer, Obj
from controller.runtime.ratelimit import jittered
from controller.runtime.workqueue import ShutDown, WorkQueue
from internal.kube.resources import key_of

log = logging.getLogger(__name__)

WAIT_FOR_OTHERS = 30.0


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    """Seconds until the next reconcile (jittered); None waits for the next event."""
    jitter: bool = True
    failed: bool = False
    """The reconcile failed and handled its own retry (a Ready=False status and a requeue): it
    counts as an `error` in controller_runtime_reconcile_total, as Flux's returned error would."""


Reconcile = Callable[[str], Awaitable[Result]]
Observer = Callable[[str, str, float, BaseException | None], None]
"""Called after each reconcile with (controller name, key, seconds, error)."""


class Controller:
    def __init__(
        self,
        name: str,
        informer: Informer,
        reconcile: Reconcile,
        *,
        workers: int = 4,
        jitter_percentage: float = 5.0,
        observe: Observer | None = None,
        predicate: Callable[[str, Obj], bool] | None = None,
        runtime_metrics: metrics.RuntimeMetrics | None = None,
        waits_for: Sequence[Informer] = (),
    ) -> None:
        self.name = name
        self.informer = informer
        self.reconcile = reconcile
        self.workers = workers
        self.jitter_percentage = jitter_percentage
        self.series = (runtime_metrics or metrics.default()).controller(name, workers)
        self.queue = WorkQueue(series=self.series)
        self.series.watch(self.queue)
        self.observe = observe
        self.in_flight: set[str] = set()
        self.predicate = predicate
        self.waits_for = tuple(waits_for)
        """Informers the reconciles read besides their own, listed before the first one (for
        at most WAIT_FOR_OTHERS seconds: the reconciles must do without them meanwhile)."""
        informer.add_handler(self._on_event)

    def enqueue(self, key: str, *, urgent: bool = False) -> None:
        self.queue.add(key, urgent=urgent)

    def _on_event(self, kind: str, obj: Obj) -> None:
        if self.predicate is None or self.predicate(kind, obj):
            self.queue.add(key_of(obj))

    async def run(self) -> None:
        """Wait for the informers' first lists (the manager runs informers), then work until
        the queue shuts down."""
        await self.informer.synced.wait()
        for other in self.waits_for:
            try:
                await asyncio.wait_for(other.synced.wait(), WAIT_FOR_OTHERS)
            except TimeoutError:
                log.warning("%s: starting before %s are listed", self.name, other.resource.plural)
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    def stop(self) -> None:
        """Take no more keys; `run` returns once the in-flight reconciles end."""
        self.queue.shut_down()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            self.in_flight.add(key)
            start = time.monotonic()
            error: BaseException | None = None
            outcome = "error"
            self.series.started()
            with reconciling(self.name, key, self.informer.resource.group):
                try:
                    result = await self.reconcile(key)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = exc
                    self._failed(key, exc)
                else:
                    self.queue.forget(key)
                    outcome = _result_label(result)
                    if result.requeue_after is not None:
                        after = result.requeue_after
                        if result.jitter:
                            after = jittered(after, self.jitter_percentage)
                        self.queue.add_after(key, after)
                finally:
                    self.in_flight.discard(key)
                    self.queue.done(key)
                    self.series.finished(outcome, time.monotonic() - start)
            if self.observe:
                self.observe(self.name, key, time.monotonic() - start, error)

    def _failed(self, key: str, exc: Exception) -> None:
        """One line per failure, as controller-runtime's "Reconciler error": the error's
        message, no traceback (that is written only at --log-level=debug or trace)."""
        delay = self.queue.add_rate_limited(key)
        log.error(
            "Reconciler error",
            exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
            extra={
                "fields": {
                    "error": str(exc) or type(exc).__name__,
                    "requeueAfter": format_duration(int(delay * 1e9)),
                },
                "human": f"reconcile failed, retrying in {delay:.2f}s: {exc}",
            },
        )


def _result_label(result: Result) -> str:
    if result.failed:
        return "error"
    return "requeue_after" if result.requeue_after else "success"


def spec_changed() -> Callable[[str, Obj], bool]:
    """Flux's predicates: a new generation, a changed annotation (reconcile requests), the
    start of a deletion, a resync or a deletion. Status writes alone do not wake the object."""
    seen: dict[str, tuple[object, object, object]] = {}

    def check(kind: str, obj: Obj) -> bool:
        key = key_of(obj)
        if kind == "DELETED":
            seen.pop(key, None)
            return True
        meta = obj.get("metadata", {})
        now = (meta.get("generation"), meta.get("annotations"), meta.get("deletionTimestamp"))
        before = seen.get(key)
        seen[key] = now
        return kind in ("ADDED", "SYNC") or before != now

    return check
