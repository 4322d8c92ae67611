"""Fifty installs at once, each into its own namespace, through one engine and one cached
target: all succeed, and discovery is not downloaded once per action."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit import charts
from internal.helm import Engine
from internal.helm.models import ClusterTarget, InstallRequest

pytestmark = pytest.mark.engine

PARALLEL = 50


async def test_fifty_concurrent_installs_into_separate_namespaces(
    engine: Engine,
    target: ClusterTarget,
    chart_root: Path,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
) -> None:
    chart = charts.make_chart(chart_root)
    run = uuid.uuid4().hex[:6]
    namespaces = [f"t-engine-par-{run}-{i:02d}" for i in range(PARALLEL)]
    try:
        await asyncio.gather(
            *(
                core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
                for ns in namespaces
            )
        )
        before = await engine.stats()
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                engine.install(
                    InstallRequest(
                        release_name="par",
                        namespace=ns,
                        chart=chart,
                        values={"message": ns},
                        timeout=timedelta(minutes=4),
                    ),
                    cluster=target,
                )
                for ns in namespaces
            )
        )
        elapsed = time.monotonic() - started
        after = await engine.stats()

        assert [o.result.release.status for o in outcomes if o.result.release] == [
            "deployed"
        ] * PARALLEL
        for ns, o in zip(namespaces, outcomes, strict=True):
            assert o.result.release is not None
            assert o.result.release.namespace == ns
            assert [op.operation for op in o.observations] == ["create", "update"]
        for ns in namespaces[:: PARALLEL // 5]:
            cm = await core.read_namespaced_config_map("par-config", ns)
            assert cm.data == {"message": ns}
            dep = await apps.read_namespaced_deployment("par", ns)
            assert dep.status.ready_replicas == 1

        discovery = after.requests.discovery - before.requests.discovery
        hits = after.requests.discovery_cache_hits - before.requests.discovery_cache_hits
        openapi = after.requests.openapi - before.requests.openapi
        print(
            f"\n{PARALLEL} parallel installs: {elapsed:.1f}s; discovery requests sent {discovery}, "
            f"answered from cache {hits}; OpenAPI requests {openapi}"
        )
        # One cached target: discovery is fetched a handful of times, not once (or more) per
        # action.
        assert discovery < PARALLEL / 2, discovery
        assert openapi == 0, openapi  # the server validates fields itself (1.27 and later)
        assert hits >= PARALLEL
    finally:
        for ns in namespaces:
            try:
                await core.delete_namespace(ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise
