"""Helpers of the engine tests: deletion waits, observation summaries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.wait import eventually
from internal.helm.models import Observation


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
