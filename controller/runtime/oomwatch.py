"""The OOM watcher (the OOMWatch feature gate): polls the cgroup's memory usage and, near the
limit, asks for the same graceful shutdown as SIGTERM, before the kernel's OOM killer ends the
process in the middle of a Helm action and leaves its release locked (pending-*)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from internal.memory.cgroup import (
    MemoryFileError,
    WatchPlan,
    format_size,
    near_oom,
    percent,
    read_bytes,
)

log = logging.getLogger("OOMwatch")


async def watch_memory(
    plan: WatchPlan, stop: asyncio.Event, read: Callable[[Path], int] = read_bytes
) -> bool:
    """Check usage every `plan.interval` until it reaches the threshold (then set `stop` and
    return True) or `stop` is set by someone else (return False). An unreadable usage file
    skips that check, as Flux's does."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), plan.interval)
        except TimeoutError:
            pass
        else:
            log.debug("stopping: the controller is shutting down")
            return False
        try:
            current = read(plan.current_path)
        except MemoryFileError as exc:
            log.error("cannot read the memory usage, this check skipped: %s", exc)
            continue
        usage = f"{format_size(current)}/{format_size(plan.limit)}"
        if near_oom(current, plan.limit, plan.threshold):
            log.info(
                "memory usage %s reached %d%% of the limit: near OOM, shutting down gracefully",
                usage,
                plan.threshold,
                extra={"fields": {"current": current, "limit": plan.limit}},
            )
            stop.set()
            return True
        log.debug(
            "memory usage %s (%.2f%%, shutting down at %d%%)",
            usage,
            percent(current, plan.limit),
            plan.threshold,
        )
    return False
