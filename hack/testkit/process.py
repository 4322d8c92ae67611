"""Another project's server run as a process for a test: its output in a log file, waited on until
it answers over HTTP, and stopped on exit (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass(frozen=True)
class Server:
    """A running process and the file its stdout and stderr go to."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    def tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log})\n{text[-chars:]}"

    async def stop(self, grace: float = 10.0) -> None:
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def wait_http(self, url: str, *, within: float = 30.0) -> None:
        """Until a GET of `url` answers 200. Fails at once, with the log's tail, when the
        process exits first."""
        deadline = time.monotonic() + within
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.process.returncode}\n{self.tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        f"{self.name}: {url} not ready after {within}s\n{self.tail()}"
                    )
                await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    grace: float = 10.0,
) -> AsyncIterator[Server]:
    """`argv` as a process, its output in `log`, `env` added to this process's environment."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
        )
    server = Server(name, proc, log)
    try:
        yield server
    finally:
        await server.stop(grace)
