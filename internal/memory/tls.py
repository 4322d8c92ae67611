"""asyncio's TLS read buffer, sized for a process that holds many idle connections.

Each TLS connection of asyncio keeps a read buffer of `SSLProtocol.max_size` bytes (256 KiB),
filled with zeros when the connection opens, so every page of it is resident. The controller
holds a connection per watch and per pooled request, dozens of them, and a TLS record is at
most 16 KiB: a smaller buffer reads the same bytes in more, still cheap, calls.
"""

from __future__ import annotations

import asyncio.sslproto

TLS_RECORD = 16 * 1024
"""Bytes: the most plaintext one TLS record carries."""
READ_BUFFER = TLS_RECORD


def limit_read_buffer(size: int = READ_BUFFER) -> None:
    """Give TLS connections opened from now on a read buffer of `size` bytes."""
    if size < TLS_RECORD:
        raise ValueError(f"a TLS read buffer of {size} bytes cannot hold one TLS record")
    asyncio.sslproto.SSLProtocol.max_size = size
