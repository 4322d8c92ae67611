"""Fixtures: the session's local control plane, a client, a namespace per test."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.kube import api_client
from hack.testkit.plane import ControlPlane, ensure_control_plane, keep_cluster, stop_control_plane
from hack.testkit.wait import eventually


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """One control plane per session. Reuses one already up and then leaves it up."""
    plane = ensure_control_plane()
    yield plane
    if plane.started_here and not keep_cluster():
        stop_control_plane()


@pytest.fixture(scope="session")
async def kube(control_plane: ControlPlane) -> AsyncIterator[client.ApiClient]:
    """A kubernetes-asyncio client authenticated as the cluster admin."""
    async with api_client(control_plane.kubeconfig) as api:
        yield api


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace, ready for pods (its default service account exists), deleted after."""
    core = client.CoreV1Api(kube)
    name = _namespace_name(request.node.name)
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    async def default_sa() -> bool:
        try:
            await core.read_namespaced_service_account("default", name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    await eventually(default_sa, within=30, what=f"service account default in {name}")
    yield name
    try:
        await core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
