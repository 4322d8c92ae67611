"""The artifact HTTP server: serves the storage root read-only, as source-controller's file
server does (`--storage-addr`). Nothing outside the root is reachable, symlinks included, and
nothing under `dependencies/`: the built chart dependencies kept there are an internal cache
(fetched with a namespace's credentials), not artifacts."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from internal.artifacts.dependencies import DIRECTORY as DEPENDENCIES


def make_app(root: Path) -> web.Application:
    root = root.resolve()

    async def serve(request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        try:
            path = (root / rel).resolve(strict=True)
        except (OSError, RuntimeError):
            raise web.HTTPNotFound() from None
        if not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound()
        if path.is_relative_to(root / DEPENDENCIES):
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_route("GET", "/{path:.+}", serve)
    return app


class ArtifactServer:
    """Runs `make_app` on host:port until `stop`."""

    def __init__(self, root: Path, host: str, port: int) -> None:
        self._runner = web.AppRunner(make_app(root), access_log=None)
        self._host = host
        self._port = port
        self.port = port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        if server is not None and self._port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        await self._runner.cleanup()
