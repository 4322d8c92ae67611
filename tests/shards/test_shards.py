"""Sharding as Flux does it, for real: two `helmward run` processes on the shared control plane,
one per `sharding.fluxcd.io/key` value. Each reconciles exactly its own releases (from the Helm
storage writes each one logged) and their sources; a release nobody's shard is labelled for is
left alone; a release whose HelmRepository is in the other shard is not Ready and says why; a
release moved the safe way (suspend, relabel it and its source, resume) is then the other
shard's alone. The shards hold distinct Leases, so neither waits for the other."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from controller.flags import lease_of
from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.launcher import Controller
from hack.testkit.plane import ControlPlane
from hack.testkit.shards import SHARD_LABEL, labels, log_path, running_shards, selector
from hack.testkit.shards import storage_writes as shard_writes
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS, HELM_RELEASES, HELM_REPOSITORIES, LEASES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused

pytestmark = pytest.mark.e2e

SHARDS = ("shard1", "shard2")
PER_SHARD = 3


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), None)


def _ready(obj: dict[str, Any]) -> bool:
    cond = _condition(obj, "Ready")
    return cond is not None and cond["status"] == "True"


async def _apply(kube: client.ApiClient, resource: Any, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    await rest.request(
        kube,
        "PATCH",
        resource.path(meta["namespace"], meta["name"]),
        body={"apiVersion": resource.api_version, "kind": resource.kind, **body},
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "shards-test", "force": True},
    )


async def _repository(kube: client.ApiClient, namespace: str, shard: str, url: str) -> None:
    meta = {"name": f"charts-{shard}", "namespace": namespace, "labels": labels(shard)}
    await _apply(
        kube, HELM_REPOSITORIES, {"metadata": meta, "spec": {"url": url, "interval": "5m"}}
    )


def _release(
    namespace: str, name: str, shard: str, source_shard: str, message: str = "hi"
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels(shard)},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {
                    "chart": "demo",
                    "version": "1.0.0",
                    "sourceRef": {"kind": "HelmRepository", "name": f"charts-{source_shard}"},
                }
            },
            "values": {"message": message},
        },
    }


async def _get(kube: client.ApiClient, resource: Any, namespace: str, name: str) -> Any:
    return await rest.request(kube, "GET", resource.path(namespace, name))


async def _wait_ready(kube: client.ApiClient, resource: Any, namespace: str, name: str) -> None:
    async def ready() -> bool:
        return _ready(await _get(kube, resource, namespace, name))

    try:
        await eventually(ready, within=120, what=f"{resource.kind} {name} Ready")
    except AssertionError:
        obj = await _get(kube, resource, namespace, name)
        raise AssertionError(f"{resource.kind} {name}: {obj.get('status')}") from None


@contextlib.asynccontextmanager
async def _cleanup(kube: client.ApiClient, namespace: str, work: Path) -> AsyncIterator[None]:
    """Delete the releases while the shards still run (their finalizers uninstall them); print
    the shards' logs' tails when the test failed."""
    try:
        yield
    finally:
        listing = await rest.request(kube, "GET", HELM_RELEASES.path(namespace))
        for item in listing.get("items", []):
            with contextlib.suppress(ApiException):
                await rest.request(
                    kube, "DELETE", HELM_RELEASES.path(namespace, item["metadata"]["name"])
                )

        async def gone() -> bool:
            left = await rest.request(kube, "GET", HELM_RELEASES.path(namespace))
            return not left.get("items")

        with contextlib.suppress(AssertionError):
            await eventually(gone, within=60, what="HelmReleases finalized")
        for shard in SHARDS:
            log = log_path(work, shard)
            if log.exists():
                print(f"--- {shard}\n{log.read_text()[-4000:]}")


async def test_each_shard_reconciles_its_own_releases_and_sources_only(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> None:
    chart = write_message_chart(tmp_path / "src", "demo", "1.0.0")
    owned = {shard: {f"{namespace}/{shard}-{i}" for i in range(PER_SHARD)} for shard in SHARDS}
    async with (
        chart_repository(control_plane.helm, [chart], tmp_path / "repo") as charts,
        running_shards(
            control_plane.kubeconfig,
            tmp_path,
            SHARDS,
            namespace=namespace,
            flags=("--concurrent", "4"),
        ) as shards,
        _cleanup(kube, namespace, tmp_path),
    ):
        for shard in SHARDS:
            await _repository(kube, namespace, shard, charts.url)
            for i in range(PER_SHARD):
                await _apply(kube, HELM_RELEASES, _release(namespace, f"{shard}-{i}", shard, shard))
        # Nobody's: no shard label, and no unsharded controller runs.
        await _apply(kube, HELM_RELEASES, _release(namespace, "unsharded", "", "shard1"))
        # shard1's release of shard2's HelmRepository.
        await _apply(kube, HELM_RELEASES, _release(namespace, "cross", "shard1", "shard2"))

        for shard in SHARDS:
            await _wait_ready(kube, HELM_REPOSITORIES, namespace, f"charts-{shard}")
            for key in sorted(owned[shard]):
                name = key.partition("/")[2]
                await _wait_ready(kube, HELM_RELEASES, namespace, name)
                chart_obj = await _get(kube, HELM_CHARTS, namespace, f"{namespace}-{name}")
                assert chart_obj["metadata"]["labels"] == {SHARD_LABEL: shard}
                assert _ready(chart_obj)

        await _assert_cross_shard_source_is_named(kube, namespace)
        await _assert_nobody_touched(kube, namespace, shards)
        writes = {shard: shard_writes(log_path(tmp_path, shard)) for shard in SHARDS}
        assert {shard: set(writes[shard]) for shard in SHARDS} == owned
        await _assert_distinct_leases(kube, namespace, shards)

        await _move(kube, namespace, f"{namespace}/shard1-0", tmp_path)


async def _assert_cross_shard_source_is_named(kube: client.ApiClient, namespace: str) -> None:
    """As source-controller with a filtered cache: shard1's HelmChart cannot see shard2's
    HelmRepository, so it fails to get its source, and the release waits on the chart."""
    chart_name = f"{namespace}-cross"
    source = f"HelmRepository '{namespace}/charts-shard2' not found"

    async def chart_failed() -> dict[str, Any] | None:
        obj = await rest.get_optional(kube, HELM_CHARTS.path(namespace, chart_name))
        cond = _condition(obj or {}, "Ready")
        return cond if cond and cond["status"] == "False" and source in cond["message"] else None

    cond = await eventually(chart_failed, within=60, what="the cross-shard HelmChart failed")
    assert cond["reason"] == "SourceUnavailable"
    assert cond["message"] == f"failed to get source: {source}"

    async def release_waits() -> dict[str, Any] | None:
        cond = _condition(await _get(kube, HELM_RELEASES, namespace, "cross"), "Ready")
        return cond if cond and cond["status"] == "False" and source in cond["message"] else None

    cond = await eventually(release_waits, within=60, what="the cross-shard release waiting")
    assert cond["reason"] == "SourceNotReady"
    assert cond["message"] == (
        f"HelmChart '{namespace}/{chart_name}' is not ready: failed to get source: {source}"
    )


async def _assert_nobody_touched(
    kube: client.ApiClient, namespace: str, shards: dict[str, Controller]
) -> None:
    obj = await _get(kube, HELM_RELEASES, namespace, "unsharded")
    # The CRD's default, as the API server stored it: no controller wrote a status.
    assert obj.get("status") == {"observedGeneration": -1}
    assert not obj["metadata"].get("finalizers")
    assert (
        await rest.get_optional(kube, HELM_CHARTS.path(namespace, f"{namespace}-unsharded")) is None
    )
    assert all(c.returncode is None for c in shards.values())


async def _assert_distinct_leases(
    kube: client.ApiClient, namespace: str, shards: dict[str, Controller]
) -> None:
    """Each shard leads under its own Lease: the scope's (namespace and selector) digest."""
    names = {shard: lease_of("", namespace, selector(shard))[1] for shard in shards}
    assert len(set(names.values())) == len(shards)
    holders = set()
    for name in names.values():
        lease = await _get(kube, LEASES, namespace, name)
        holders.add(lease["spec"]["holderIdentity"])
    assert len(holders) == len(shards)


def _logged(log: Path, name: str, msg: str) -> bool:
    """Whether the controller logged `msg` while reconciling HelmRelease `name`."""
    for line in log.read_text().splitlines():
        if f'"msg": "{msg}"' in line or f'"msg":"{msg}"' in line:
            entry = json.loads(line)
            if (entry.get("HelmRelease") or {}).get("name") == name:
                return True
    return False


async def _move(kube: client.ApiClient, namespace: str, key: str, work: Path) -> None:
    """shard1 -> shard2, as docs/scaling.md says: suspend, relabel the release and point it at
    shard2's HelmRepository (its HelmChart follows the release's label), resume. An upgrade
    afterwards is written by shard2 only."""
    name = key.partition("/")[2]
    before = {shard: shard_writes(log_path(work, shard))[key] for shard in SHARDS}
    moved = _release(namespace, name, "shard1", "shard1")
    moved["spec"]["suspend"] = True
    await _apply(kube, HELM_RELEASES, moved)

    async def suspended() -> bool:
        return _logged(log_path(work, "shard1"), name, "suspended")

    await eventually(suspended, within=60, what=f"shard1 saw {name} suspended")
    moved = _release(namespace, name, "shard2", "shard2")
    moved["spec"]["suspend"] = True
    await _apply(kube, HELM_RELEASES, moved)
    moved = _release(namespace, name, "shard2", "shard2", message="moved")
    await _apply(kube, HELM_RELEASES, moved)

    async def upgraded() -> bool:
        obj = await _get(kube, HELM_RELEASES, namespace, name)
        history = (obj.get("status") or {}).get("history") or []
        return _ready(obj) and bool(history) and history[0].get("version") == 2

    await eventually(upgraded, within=120, what=f"{name} upgraded by shard2")
    chart_obj = await _get(kube, HELM_CHARTS, namespace, f"{namespace}-{name}")
    assert chart_obj["metadata"]["labels"] == {SHARD_LABEL: "shard2"}
    assert chart_obj["spec"]["sourceRef"]["name"] == "charts-shard2"
    after = {shard: shard_writes(log_path(work, shard))[key] for shard in SHARDS}
    assert after["shard1"] == before["shard1"]
    assert after["shard2"] > before["shard2"] == 0
