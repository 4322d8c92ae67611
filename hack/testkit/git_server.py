"""git servers on 127.0.0.1 for bare repositories: smart HTTP through `git http-backend`
behind basic auth, and Debian's sshd; `git` runs the git CLI with a clean identity."""

from __future__ import annotations

import asyncio
import base64
import getpass
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

from aiohttp import web

from hack.testkit.httpd import serve
from hack.testkit.ports import free_port


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
    """git's smart HTTP protocol through `git http-backend` (CGI), behind basic auth; HTTPS
    with `tls`. Serves the bare repositories under `root`."""

    def __init__(
        self, root: Path, *, username: str, password: str, tls: ssl.SSLContext | None = None
    ) -> None:
        self.root = root
        self.username = username
        self.password = password
        self.tls = tls
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, repo: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{repo}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
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
        self._runner, self.port = await serve(app, port, tls=self.tls)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class SSHServer:
    """Debian's sshd on a free high port on 127.0.0.1, accepting one test key for the
    current user; git runs over it with the repositories' absolute paths."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
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
        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
