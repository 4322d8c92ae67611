"""The generated CRDs, installed once per session and left installed for other suites."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit.kube import install_crds


@pytest.fixture(scope="session")
async def flux_crds(kube: client.ApiClient) -> list[str]:
    """Server-side apply of config/crd/bases/*.yaml; waits until every CRD is Established."""
    return await install_crds(kube)
