"""asyncio's TLS read buffer: the size set is the size a new connection keeps, and a body
many times that size still arrives whole."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import hashlib
import ssl
from collections.abc import Iterator

import pytest
import trustme

from hack.testkit.tls import server_context
from internal.memory.tls import READ_BUFFER, limit_read_buffer


@pytest.fixture
def default_size() -> Iterator[int]:
    before = asyncio.sslproto.SSLProtocol.max_size
    yield before
    asyncio.sslproto.SSLProtocol.max_size = before


async def _fetch(body: bytes) -> tuple[bytes, int]:
    """`body` sent over one TLS connection; what arrived and the client's read buffer size."""
    ca = trustme.CA()

    async def send(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(send, "127.0.0.1", 0, ssl=server_context(ca))
    port = server.sockets[0].getsockname()[1]
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
        )
        received = await reader.read(-1)
        # asyncio keeps the TLS layer's protocol, and its buffer, behind the transport.
        tls = writer.transport._ssl_protocol  # type: ignore[attr-defined]
        buffer = len(tls._ssl_buffer)
        writer.close()
    return received, buffer


def test_the_python_default_is_256_kib(default_size: int) -> None:
    assert default_size == 256 * 1024


def test_a_new_connection_keeps_the_limited_buffer_and_reads_a_large_body_whole(
    default_size: int,
) -> None:
    limit_read_buffer()
    body = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)
    received, buffer = asyncio.run(_fetch(body))
    assert buffer == READ_BUFFER == 16 * 1024
    assert len(received) == len(body) == 3 * 1024 * 1024
    assert received == body


def test_a_buffer_smaller_than_one_tls_record_is_refused(default_size: int) -> None:
    with pytest.raises(ValueError, match="cannot hold one TLS record"):
        limit_read_buffer(8 * 1024)
    assert asyncio.sslproto.SSLProtocol.max_size == default_size
