"""The test proxy: basic auth enforced, CONNECT and plain requests let through and recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from hack.testkit.httpd import serve
from hack.testkit.proxy import running_proxy


@contextlib.asynccontextmanager
async def _origin() -> AsyncIterator[int]:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner, port = await serve(app)
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_plain_request_needs_the_credentials_and_is_recorded() -> None:
    async with _origin() as port, running_proxy("u", "p") as proxy:
        url = f"http://127.0.0.1:{port}/hello"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, proxy=proxy.address) as anonymous:
                assert anonymous.status == 407
            assert proxy.refused == 1
            assert proxy.forwarded == []
            authed = f"http://u:p@127.0.0.1:{proxy.port}"
            async with session.get(url, proxy=authed) as response:
                assert (response.status, await response.text()) == (200, "hi")
        assert proxy.forwarded == [url]
        assert proxy.targets == [f"127.0.0.1:{port}"]


async def test_connect_tunnels_bytes_both_ways() -> None:
    async with _origin() as port, running_proxy() as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = await reader.read()
        writer.close()
        assert body.startswith(b"HTTP/1.1 200")
        assert body.endswith(b"hi")
        assert proxy.tunnels == [f"127.0.0.1:{port}"]
