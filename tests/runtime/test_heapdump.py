"""The heap dump: off unless HELMWARD_HEAP_DUMP names a directory; then SIGUSR2 writes one."""

from __future__ import annotations

import asyncio
import os
import signal
import tracemalloc
from pathlib import Path

from controller.runtime import heapdump


async def test_off_by_default() -> None:
    assert heapdump.install(asyncio.get_running_loop(), {}) is None
    assert not tracemalloc.is_tracing()


async def test_sigusr2_writes_where_memory_lives(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    try:
        where = heapdump.install(loop, {heapdump.ENV: str(tmp_path)}, lambda: "stores: x 3")
        assert where == tmp_path
        kept = [bytearray(1024) for _ in range(2048)]  # 2 MiB from this line
        os.kill(os.getpid(), signal.SIGUSR2)
        for _ in range(100):
            if list(tmp_path.iterdir()):  # noqa: ASYNC240
                break
            await asyncio.sleep(0.01)
        (dump,) = tmp_path.iterdir()  # noqa: ASYNC240
        assert dump.name == f"heap-{os.getpid()}-1.txt"
        text = dump.read_text()
        assert "stores: x 3" in text
        by_line = text.split("by line:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert "test_heapdump.py:" in by_line[0]
        assert float(by_line[0].split()[0]) >= 2.0
        del kept
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
        tracemalloc.stop()
