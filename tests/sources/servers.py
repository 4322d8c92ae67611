"""Real servers for the sources tests, each on 127.0.0.1 and stopped after its test: a Helm
chart repository over HTTPS with basic auth, made with the helm CLI's own packaging."""

from __future__ import annotations

import base64
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiohttp import web


def write_chart(
    root: Path, name: str, version: str, *, values: str = "replicas: 1\n", deps: str = ""
) -> Path:
    """A small but real chart directory."""
    d = root / name
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n{deps}"
    )
    (d / "values.yaml").write_text(values)
    (d / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n"
    )
    return d


def helm_package(helm: Path, chart_dir: Path, dest: Path) -> Path:
    out = subprocess.run(
        [str(helm), "package", str(chart_dir), "-d", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(out.strip().rsplit(" ", 1)[-1])


def helm_index(helm: Path, repo_dir: Path, url: str) -> None:
    subprocess.run(
        [str(helm), "repo", "index", str(repo_dir), "--url", url], check=True, capture_output=True
    )


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


class ChartServer:
    """Serves a directory over HTTP(S), optionally behind basic auth; counts requests by path."""

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
        return web.FileResponse(path)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
