"""An HTTP forward proxy on 127.0.0.1 for the proxySecretRef tests: CONNECT tunnels (HTTPS, and
git or OCI over HTTPS) and absolute-URI requests (plain HTTP), with optional basic auth. It
records every target, so a test can show the traffic went through it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_LIMIT = 64 * 1024


@dataclass
class Proxy:
    port: int
    username: str | None = None
    password: str | None = None
    tunnels: list[str] = field(default_factory=list)
    """host:port of every CONNECT let through."""
    forwarded: list[str] = field(default_factory=list)
    """The absolute URL of every plain HTTP request let through."""
    refused: int = 0
    """Requests answered 407, for missing or wrong credentials."""

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets(self) -> list[str]:
        """host:port of everything let through, tunnels and plain requests alike."""
        plain = []
        for url in self.forwarded:
            parts = urlsplit(url)
            plain.append(f"{parts.hostname}:{parts.port or 80}")
        return self.tunnels + plain

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.username is None:
            return True
        token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {token}"


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers, raw


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_LIMIT):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _relay(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    await asyncio.gather(_pipe(client[0], upstream[1]), _pipe(upstream[0], client[1]))


def _strip_hop_headers(raw: bytes, request_line: str) -> bytes:
    lines = raw.decode("latin-1").split("\r\n")
    kept = [request_line] + [
        line
        for line in lines[1:]
        if line and not line.lower().startswith(("proxy-authorization:", "proxy-connection:"))
    ]
    return ("\r\n".join(kept) + "\r\n\r\n").encode("latin-1")


async def _handle(proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        line, headers, raw = await _read_head(reader)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    method, _, rest = line.partition(" ")
    target, _, version = rest.rpartition(" ")
    if not proxy._authorized(headers):
        proxy.refused += 1
        writer.write(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="testkit"\r\nContent-Length: 0\r\n'
            b"Connection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()
        return
    try:
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = await asyncio.open_connection(host, int(port))
            proxy.tunnels.append(target)
            writer.write(f"{version} 200 Connection established\r\n\r\n".encode())
            await writer.drain()
            await _relay((reader, writer), upstream)
            return
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        upstream = await asyncio.open_connection(parts.hostname, parts.port or 80)
        proxy.forwarded.append(target)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        upstream[1].write(_strip_hop_headers(raw, f"{method} {path} {version}"))
        await upstream[1].drain()
        await _relay((reader, writer), upstream)
    except OSError:
        with contextlib.suppress(Exception):
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()


@contextlib.asynccontextmanager
async def running_proxy(
    username: str | None = None, password: str | None = None
) -> AsyncIterator[Proxy]:
    """A proxy on a free port of 127.0.0.1 until the block ends; with `username`, every
    request must carry matching Proxy-Authorization basic credentials."""
    proxy = Proxy(0, username, password)
    server = await asyncio.start_server(
        lambda r, w: _handle(proxy, r, w), "127.0.0.1", 0, limit=_LIMIT
    )
    proxy.port = int(server.sockets[0].getsockname()[1])
    try:
        yield proxy
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
