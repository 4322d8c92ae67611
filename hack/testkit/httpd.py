"""An aiohttp application served on 127.0.0.1, for the test servers."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve(
    app: web.Application, port: int = 0, *, tls: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start `app` on 127.0.0.1:`port` (0: a free one); its runner, to clean up, and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start()
    return runner, int(runner.addresses[0][1])
