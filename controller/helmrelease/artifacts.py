"""Chart artifacts: downloaded once per digest, verified, kept in a local cache."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import aiohttp

MAX_CHART_BYTES = 50 * 1024 * 1024


class ArtifactError(Exception):
    pass


FetchObserver = Callable[[str, int], None]
"""Told each fetch's result (`downloaded`, `cached` or `failed`) and the bytes downloaded."""


class ArtifactCache:
    def __init__(
        self, root: Path, timeout: float = 30.0, observe: FetchObserver | None = None
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.observe = observe
        root.mkdir(parents=True, exist_ok=True)

    async def fetch(self, url: str, digest: str) -> Path:
        try:
            path, size = await self._fetch(url, digest)
        except ArtifactError:
            self._tell("failed", 0)
            raise
        self._tell("downloaded" if size else "cached", size)
        return path

    def _tell(self, result: str, size: int) -> None:
        if self.observe is not None:
            self.observe(result, size)

    async def _fetch(self, url: str, digest: str) -> tuple[Path, int]:
        """The artifact's path and the bytes downloaded for it (0 when it was cached)."""
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or len(expected) != 64:
            raise ArtifactError(f"unsupported artifact digest '{digest}'")
        path = self.root / f"{expected}.tgz"
        if path.is_file():
            return path, 0
        hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
                    if resp.status != 200:
                        raise ArtifactError(f"artifact '{url}' answered HTTP {resp.status}")
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        size += len(chunk)
                        if size > MAX_CHART_BYTES:
                            raise ArtifactError(f"artifact '{url}' is over {MAX_CHART_BYTES} bytes")
                        hasher.update(chunk)
                        out.write(chunk)
            if hasher.hexdigest() != expected:
                raise ArtifactError(
                    f"artifact '{url}' digest mismatch: expected {digest}, "
                    f"got sha256:{hasher.hexdigest()}"
                )
            os.replace(tmp, path)
        except aiohttp.ClientError as exc:
            raise ArtifactError(f"failed to download artifact '{url}': {exc}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)  # noqa: ASYNC240 - a no-op after os.replace
        return path, size
