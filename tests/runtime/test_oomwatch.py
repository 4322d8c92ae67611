"""The OOM watcher's loop: it sets the shutdown event at the threshold, and only then."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from controller.runtime.oomwatch import watch_memory
from internal.memory.cgroup import WatchPlan


def _plan(tmp_path: Path, current: str, *, limit: int = 1000, threshold: int = 50) -> WatchPlan:
    (tmp_path / "memory.current").write_text(current)
    return WatchPlan(limit, tmp_path / "memory.current", threshold, 0.05)


async def test_usage_at_the_threshold_sets_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watch = _plan(tmp_path, "499\n")
    stop = asyncio.Event()
    task = asyncio.create_task(watch_memory(watch, stop))
    await asyncio.sleep(0.3)
    assert not stop.is_set(), "49.9% is below 50%"
    assert not task.done()
    caplog.set_level(logging.INFO, "OOMwatch")
    raised = time.monotonic()
    watch.current_path.write_text("500\n")
    assert await asyncio.wait_for(task, 5) is True
    assert stop.is_set()
    assert time.monotonic() - raised < 1, "seen within a few intervals"
    assert [r.getMessage() for r in caplog.records if r.name == "OOMwatch"] == [
        "memory usage 500 B/1000 B reached 50% of the limit: near OOM, shutting down gracefully"
    ]


async def test_an_unreadable_usage_skips_the_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watch = _plan(tmp_path, "lots")
    stop = asyncio.Event()
    task = asyncio.create_task(watch_memory(watch, stop))
    await asyncio.sleep(0.3)
    assert not task.done()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert set(errors) == {
        "cannot read the memory usage, this check skipped: "
        f"{watch.current_path} does not hold a number of bytes: 'lots'"
    }
    watch.current_path.unlink()
    await asyncio.sleep(0.2)
    assert not task.done(), "a missing file is skipped too"
    watch.current_path.write_text("900")
    assert await asyncio.wait_for(task, 5) is True


async def test_a_shutdown_ends_the_watch(tmp_path: Path) -> None:
    watch = _plan(tmp_path, "1\n")
    stop = asyncio.Event()
    task = asyncio.create_task(watch_memory(watch, stop))
    await asyncio.sleep(0.2)
    stop.set()
    assert await asyncio.wait_for(task, 1) is False
