"""Running a tool (git, gpg) for a source with a deadline: the whole process group is killed
when it passes, since helpers it spawns (git-remote-http, ssh, gpg-agent) hold the pipes open
and a wait on them would last as long as a stuck server does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from pathlib import Path


async def run_bounded(
    argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], deadline: float
) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `argv`; TimeoutError after `deadline` seconds, the
    process group killed; FileNotFoundError when the program is not installed."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), deadline)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return proc.returncode or 0, out, err
