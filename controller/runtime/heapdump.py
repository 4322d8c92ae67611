"""A debugging aid, off by default: with HELMWARD_HEAP_DUMP set to a directory, Python's
allocations are traced from start-up and each SIGUSR2 writes where the live memory was
allocated (by line, by file, and the biggest call stacks with HELMWARD_HEAP_DUMP_FRAMES > 1)
to `heap-<pid>-<n>.txt` there.
Tracing costs CPU and memory of its own, so it is for measuring, never for production.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "HELMWARD_HEAP_DUMP"
FRAMES_ENV = "HELMWARD_HEAP_DUMP_FRAMES"
"""Frames kept per allocation (1): more give whole call stacks, and slow the process enough
to lose its leader lease under load."""
Extra = Callable[[], str]
"""More lines for each dump (the informers' store sizes, say)."""


def install(
    loop: asyncio.AbstractEventLoop, environ: Mapping[str, str], extra: Extra | None = None
) -> Path | None:
    """Start tracing and dump on SIGUSR2 when the environment asks for it; the directory, or
    None when it does not."""
    where = environ.get(ENV, "")
    if not where:
        return None
    directory = Path(where)
    directory.mkdir(parents=True, exist_ok=True)
    if not tracemalloc.is_tracing():
        frames = environ.get(FRAMES_ENV, "")
        tracemalloc.start(int(frames) if frames.isdigit() and int(frames) > 0 else 1)
    counter = itertools.count(1)

    def dump() -> None:
        path = directory / f"heap-{os.getpid()}-{next(counter)}.txt"
        path.write_text(report(tracemalloc.take_snapshot(), extra() if extra else ""))
        log.info("heap dump written to %s", path)

    loop.add_signal_handler(signal.SIGUSR2, dump)
    log.info("tracing Python allocations; SIGUSR2 writes a heap dump to %s", directory)
    return directory


def report(snapshot: tracemalloc.Snapshot, extra: str = "", top: int = 40) -> str:
    """The snapshot's live bytes by line, by file and by call stack, biggest first."""
    snapshot = snapshot.filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"))
    )
    total = sum(s.size for s in snapshot.statistics("filename"))
    out = [f"traced {total / 2**20:.1f} MiB live", extra, "", "by line:"]
    out += [_line(s) for s in snapshot.statistics("lineno")[:top]]
    out += ["", "by file:"]
    out += [_line(s) for s in snapshot.statistics("filename")[:top]]
    out += ["", "by call stack:"]
    for stat in snapshot.statistics("traceback")[:10]:
        out.append(_line(stat))
        out += [f"    {frame.filename}:{frame.lineno}" for frame in stat.traceback]
    return "\n".join(out) + "\n"


def _line(stat: tracemalloc.Statistic) -> str:
    frame = stat.traceback[0]
    return f"{stat.size / 2**20:9.2f} MiB {stat.count:9d} blocks  {frame.filename}:{frame.lineno}"
