"""Fixtures: moto with IAM enforced, the Key Vault stand-in, and counting SDK calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from hack.testkit.secret_stores import KeyVaultStandIn, Moto, running_keyvault, running_moto
from internal.values.backends.aws_clients import AwsClients


@pytest.fixture
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


@pytest.fixture
async def keyvault() -> AsyncIterator[KeyVaultStandIn]:
    async with running_keyvault() as vault:
        yield vault


def api_calls(clients: AwsClients) -> Counter[str]:
    """Operations the backend's clients call from now on, by name (one per call, whatever
    its retries): botocore's before-call event, registered on the session its clients are
    made from."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    clients.session.register("before-call", count)
    return calls
