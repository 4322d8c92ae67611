"""A shard's source controllers read a source the cache does not hold yet from the API server;
in a shard, only one the shard's selector selects (the API server judges it), so a HelmChart
never builds from a source another shard owns, as a Flux shard's filtered cache would have it."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio import client

from controller.sources.context import Context
from internal.artifacts.storage import Storage
from internal.kube import rest
from internal.kube.resources import HELM_REPOSITORIES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused

pytestmark = pytest.mark.sources

REPOSITORIES = {"mine": "shard1", "theirs": "shard2", "nobodys": None}


async def _repositories(kube: client.ApiClient, namespace: str) -> None:
    for name, shard in REPOSITORIES.items():
        meta: dict[str, object] = {"name": name, "namespace": namespace}
        if shard:
            meta["labels"] = {"sharding.fluxcd.io/key": shard}
        body = {
            "apiVersion": HELM_REPOSITORIES.api_version,
            "kind": "HelmRepository",
            "metadata": meta,
            "spec": {"url": "https://charts.example.com", "interval": "5m"},
        }
        await rest.request(kube, "POST", HELM_REPOSITORIES.path(namespace), body=body)


@pytest.mark.parametrize(
    ("selector", "seen"),
    [
        ("sharding.fluxcd.io/key=shard1", {"mine"}),
        ("!sharding.fluxcd.io/key", {"nobodys"}),
        (None, {"mine", "theirs", "nobodys"}),
    ],
)
async def test_a_shard_reads_only_its_own_sources_from_the_api_server(
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    selector: str | None,
    seen: set[str],
) -> None:
    await _repositories(kube, namespace)
    ctx = Context(kube, Storage(tmp_path, "127.0.0.1:1"), shard_selector=selector)
    found = set()
    for name in [*REPOSITORIES, "absent"]:
        source = await ctx.source("HelmRepository", namespace, name)
        if source is not None:
            assert source.kind == "HelmRepository"
            assert source.metadata.name == name
            found.add(name)
    assert found == seen
