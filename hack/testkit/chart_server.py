"""A Helm chart repository on 127.0.0.1: a directory over HTTP(S), optionally behind basic
auth, with charts the helm CLI packaged and indexed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trustme
from aiohttp import web

from hack.testkit.cli import helm_index, helm_package
from hack.testkit.httpd import serve


@dataclass
class CA:
    ca: trustme.CA = field(default_factory=trustme.CA)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        return ctx

    @property
    def pem(self) -> bytes:
        return self.ca.cert_pem.bytes()


# What a faulty server does to every request: answer after a delay, answer 500, or send half
# the body and close the connection.
Fault = Literal["slow", "error", "cut"]
SLOW_SECONDS = 3.0


class ChartServer:
    """Serves a directory over HTTP(S), optionally behind basic auth; counts requests by path.
    Setting `fault` makes it misbehave until it is set back to None (faults counts them)."""

    def __init__(
        self,
        root: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.root = root
        self.username = username
        self.password = password
        self.tls = tls
        self.hits: dict[str, int] = {}
        self.auth_seen: dict[str, str | None] = {}
        self.fault: Fault | None = None
        self.faults: dict[Fault, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        self.hits[rel] = self.hits.get(rel, 0) + 1
        header = request.headers.get("Authorization")
        self.auth_seen[rel] = header
        if self.username is not None:
            expected = (
                "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            )
            if header != expected:
                return web.Response(
                    status=401, headers={"WWW-Authenticate": 'Basic realm="charts"'}
                )
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return web.Response(status=404)
        if self.fault is not None:
            return await self._faulty(request, path, self.fault)
        return web.FileResponse(path)

    async def _faulty(self, request: web.Request, path: Path, fault: Fault) -> web.StreamResponse:
        self.faults[fault] = self.faults.get(fault, 0) + 1
        if fault == "error":
            return web.Response(status=500, text="injected fault")
        if fault == "slow":
            await asyncio.sleep(SLOW_SECONDS)
            return web.FileResponse(path)
        body = path.read_bytes()  # noqa: ASYNC240 - a small local file
        resp = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return resp

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner, self.port = await serve(app, port, tls=self.tls)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@contextlib.asynccontextmanager
async def chart_repository(
    helm: Path, chart_dirs: Iterable[Path], repo_dir: Path, *, port: int = 0
) -> AsyncIterator[ChartServer]:
    """`helm package` each chart into `repo_dir`, serve it over HTTP and `helm repo index` it
    at the server's URL; stopped after."""
    repo_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a local directory
    for chart_dir in chart_dirs:
        helm_package(helm, chart_dir, repo_dir)
    server = ChartServer(repo_dir)
    await server.start(port)
    try:
        helm_index(helm, repo_dir, server.url)
        yield server
    finally:
        await server.stop()
