"""A work queue of object keys, as client-go's: a key is processed by one worker at a time.

A key added while it is being processed is queued again once the worker is done, so no event is
lost and no key runs twice at once. Delayed adds keep only the earliest deadline per key.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from controller.runtime.metrics import ControllerSeries
from controller.runtime.ratelimit import ExponentialBackoff


class ShutDown(Exception):
    """The queue was shut down; workers stop."""


class WorkQueue:
    def __init__(
        self, backoff: ExponentialBackoff | None = None, series: ControllerSeries | None = None
    ) -> None:
        self._queue: deque[str] = deque()
        self._added_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        self.series = series
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._urgent: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._deadlines: dict[str, float] = {}
        self._wakeup = asyncio.Event()
        self._shutting_down = False
        self.backoff = backoff or ExponentialBackoff()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str, *, urgent: bool = False) -> None:
        """Queue `key`. An urgent key (a dependency just became Ready) goes to the front, so it
        does not wait behind a backlog of routine reconciles."""
        if self._shutting_down:
            return
        if key in self._dirty:
            if urgent and key in self._queue:
                self._queue.remove(key)
                self._queue.appendleft(key)
            elif urgent:
                self._urgent.add(key)  # queued again, at the front, when its worker is done
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, time.monotonic())
        if self.series:
            self.series.added(len(self._dirty))
        if key in self._processing:
            if urgent:
                self._urgent.add(key)
        else:
            if urgent:
                self._queue.appendleft(key)
            else:
                self._queue.append(key)
            self._notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        if key in self._deadlines and self._deadlines[key] <= deadline:
            return
        if key in self._timers:
            self._timers[key].cancel()
        self._deadlines[key] = deadline
        self._timers[key] = loop.call_at(deadline, self._fire, key)

    def add_rate_limited(self, key: str) -> float:
        if self.series:
            self.series.retried()
        delay = self.backoff.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        self.backoff.forget(key)

    def pending_delay(self, key: str) -> float | None:
        deadline = self._deadlines.get(key)
        return None if deadline is None else deadline - asyncio.get_running_loop().time()

    async def get(self) -> str:
        """The next key. Once shut down, none: the keys still queued are left for the next
        controller, so a stopping one starts no new reconcile (and no Helm action)."""
        while not self._queue or self._shutting_down:
            if self._shutting_down:
                raise ShutDown
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        now = time.monotonic()
        self._started_at[key] = now
        added = self._added_at.pop(key, now)
        if self.series:
            self.series.taken(now - added, len(self._dirty))
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if self.series and started is not None:
            self.series.worked(time.monotonic() - started)
        if key in self._dirty:
            if key in self._urgent:
                self._queue.appendleft(key)
            else:
                self._queue.append(key)
            self._notify()
        self._urgent.discard(key)

    def shut_down(self) -> None:
        self._shutting_down = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._deadlines.clear()
        self._notify()

    def processing_since(self) -> list[float]:
        """When each key in process was taken (monotonic clock)."""
        return list(self._started_at.values())

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._deadlines.pop(key, None)
        self.add(key)

    def _notify(self) -> None:
        self._wakeup.set()
