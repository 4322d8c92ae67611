"""An HTTP receiver on 127.0.0.1 that records every JSON body POSTed to it, for Alertmanager's
webhooks and notification-controller's generic provider."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hack.testkit.httpd import serve


@dataclass(frozen=True)
class Received:
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _record(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        async with self._arrived:
            self.received.append(Received(request.path, body, dict(request.headers)))
            self._arrived.notify_all()
        return web.Response(status=200)

    async def wait_for(
        self,
        predicate: Callable[[Received], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 - a deadline of its own reads best in tests
    ) -> Received:
        """The first request, already received or still to come, that `predicate` accepts."""

        def match() -> Received | None:
            return next((r for r in self.received if predicate(r)), None)

        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(match), timeout)
            except TimeoutError:
                paths = [r.path for r in self.received]
                raise AssertionError(
                    f"no matching request within {timeout}s; {len(paths)} received: {paths}"
                ) from None
        found = match()
        assert found is not None
        return found


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """The receiver on a free port; POSTs to any path are recorded. Stopped on exit."""
    app = web.Application()
    receiver = Receiver(url="")
    app.router.add_post("/{tail:.*}", receiver._record)
    runner, port = await serve(app)
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
