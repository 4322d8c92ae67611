"""Helpers of the engine tests: the stock CLIs, deletion waits, observation summaries."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from internal.helm.models import Observation
from tests.support import ControlPlane, eventually


async def helm_cli(plane: ControlPlane, *args: str) -> str:
    """Run the stock helm CLI built by hack/ against the local control plane."""
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig), "HELM_CACHE_HOME": "/tmp/helm-cache"}
    proc = await asyncio.create_subprocess_exec(
        str(plane.helm),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"helm {' '.join(args)} failed: {err.decode()}"
    return out.decode()


async def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        str(plane.kubectl),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {err.decode()}"
    return out.decode()


async def gone(
    read: Callable[..., Awaitable[Any]], *args: Any, within: float = 30, what: str = "object"
) -> None:
    """Wait until `read(*args)` answers 404."""

    async def probe() -> bool:
        try:
            await read(*args)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    await eventually(probe, within=within, what=f"{what} to be deleted")


def statuses(observations: Sequence[Observation]) -> list[tuple[str, int, str]]:
    """(operation, revision, status) of each observed storage write."""
    out = []
    for o in observations:
        assert o.release is not None
        out.append((o.operation, o.release.version, o.release.status))
    return out
