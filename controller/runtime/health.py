"""HTTP endpoints: /healthz and /readyz on the health address, /metrics on the metrics one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

Check = Callable[[], bool]
Exposition = Callable[[], bytes]
"""Series rendered in the text format by their owner, served after the registry's."""


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "0.0.0.0", int(port)


async def serve_health(addr: str, ready: Check) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="not ready")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return await _start(app, addr)


async def serve_metrics(
    addr: str, registry: CollectorRegistry = REGISTRY, extra: Sequence[Exposition] = ()
) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        body = b"".join([generate_latest(registry), *(render() for render in extra)])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return await _start(app, addr)


async def _start(app: web.Application, addr: str) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = _split(addr)
    await web.TCPSite(runner, host, port).start()
    return runner
