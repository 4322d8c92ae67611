"""The chart server's fault modes, as the chaos harness uses them: 500s, a slow answer, a body
cut in the middle; and back to normal when the fault is cleared."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hack.testkit import chart_server
from hack.testkit.chart_server import ChartServer

BODY = b"0123456789" * 1000


@contextlib.asynccontextmanager
async def _server(tmp_path: Path) -> AsyncIterator[ChartServer]:
    (tmp_path / "index.yaml").write_bytes(BODY)
    server = ChartServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.read()


async def test_error_then_cleared(tmp_path: Path) -> None:
    async with _server(tmp_path) as server:
        server.fault = "error"
        assert (await _get(f"{server.url}/index.yaml"))[0] == 500
        server.fault = None
        assert await _get(f"{server.url}/index.yaml") == (200, BODY)
        assert server.faults == {"error": 1}


async def test_cut_closes_the_connection_mid_body(tmp_path: Path) -> None:
    async with _server(tmp_path) as server:
        server.fault = "cut"
        with pytest.raises(aiohttp.ClientPayloadError):
            await _get(f"{server.url}/index.yaml")
        assert server.faults == {"cut": 1}


async def test_slow_answers_in_full_after_the_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart_server, "SLOW_SECONDS", 0.5)
    async with _server(tmp_path) as server:
        server.fault = "slow"
        start = time.monotonic()
        assert await _get(f"{server.url}/index.yaml") == (200, BODY)
        assert time.monotonic() - start >= 0.5
