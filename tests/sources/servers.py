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

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=self.tls)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


class GitHTTPServer:
    """git's smart HTTP protocol through `git http-backend` (CGI), behind basic auth. Serves
    the bare repositories under `root`."""

    def __init__(self, root: Path, *, username: str, password: str) -> None:
        self.root = root
        self.username = username
        self.password = password
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        import asyncio

        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.username,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status = 200
        headers = {}
        for line in head.decode().splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers[k.strip()] = v.strip()
        return web.Response(status=status, headers=headers, body=payload)

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class SSHServer:
    """Debian's sshd on a free high port on 127.0.0.1, accepting one test key for the
    current user; git runs over it with the repositories' absolute paths."""

    def __init__(self, workdir: Path) -> None:
        import socket

        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import getpass
        import shutil
        import time

        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        keygen = ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f"]
        subprocess.run([*keygen, str(self.dir / "host_key")], check=True)
        subprocess.run([*keygen, str(self.dir / "client_key")], check=True)
        (self.dir / "authorized_keys").write_bytes((self.dir / "client_key.pub").read_bytes())
        (self.dir / "authorized_keys").chmod(0o600)
        Path("/run/sshd").mkdir(exist_ok=True)
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir / 'host_key'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\n"
            f"StrictModes no\nPidFile {self.dir / 'sshd.pid'}\nAllowUsers {getpass.getuser()}\n"
        )
        with (self.dir / "sshd.log").open("wb") as log:
            self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=log)
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.dir / 'sshd.log').read_text()}")

    @property
    def identity(self) -> bytes:
        return (self.dir / "client_key").read_bytes()

    @property
    def known_hosts(self) -> bytes:
        key = (self.dir / "host_key.pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n".encode()

    def url(self, path: Path) -> str:
        import getpass

        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
