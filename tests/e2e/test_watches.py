"""Watches mode for real: `helmward run --watches-file` makes every Memcached (and every
Redis) a Helm release whose values are the object's spec, beside a HelmRelease in the same
process, against the local control plane."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.charts import make_chart, write_message_chart
from hack.testkit.cli import helm_package
from hack.testkit.kube import install_crds
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import Resource
from tests.e2e.conftest import Harness, running_harness

pytestmark = pytest.mark.e2e

GROUP = "cache.example.com"
MEMCACHED = Resource(GROUP, "v1alpha1", "memcacheds", "Memcached")
REDIS = Resource(GROUP, "v1alpha1", "redises", "Redis")
FINALIZER = "helm.sdk.operatorframework.io/uninstall-release"

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-memcached
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-memcached}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-memcached}
    spec:
      containers:
      - name: memcached
        image: "memcached:{{ .Values.image.tag }}"
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-memcached
spec:
  selector: {app: {{ .Release.Name }}-memcached}
  ports: [{port: 11211}]
"""
REDIS_CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-redis
data:
  maxmemory: {{ .Values.maxmemory | quote }}
"""


def _crd(resource: Resource) -> dict[str, Any]:
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{resource.plural}.{resource.group}"},
        "spec": {
            "group": resource.group,
            "scope": "Namespaced",
            "names": {
                "kind": resource.kind,
                "plural": resource.plural,
                "singular": resource.kind.lower(),
            },
            "versions": [
                {
                    "name": resource.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": open_object, "status": open_object},
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture
async def watched(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    crds = tmp_path / "crds"
    crds.mkdir()
    for resource in (MEMCACHED, REDIS):
        (crds / f"{resource.plural}.yaml").write_text(yaml.safe_dump(_crd(resource)))
    await install_crds(kube, crds)
    memcached = make_chart(
        tmp_path / "charts",
        "memcached",
        version="0.1.0",
        templates={"deployment.yaml": DEPLOYMENT, "service.yaml": SERVICE},
        values={"replicaCount": 1, "image": {"tag": "1.6"}},
    )
    redis = make_chart(
        tmp_path / "charts",
        "redis",
        version="0.2.0",
        templates={"configmap.yaml": REDIS_CONFIG},
        values={"maxmemory": "64mb"},
    )
    monkeypatch.setenv("MEMCACHED_TAG", "1.6.21")
    watches = [
        {
            "group": GROUP,
            "version": "v1alpha1",
            "kind": "Memcached",
            "chart": str(memcached),
            "overrideValues": {"image.tag": "$MEMCACHED_TAG"},
            "reconcilePeriod": "30s",
        },
        {"group": GROUP, "version": "v1alpha1", "kind": "Redis", "chart": str(redis)},
    ]
    (tmp_path / "watches.yaml").write_text(yaml.safe_dump(watches))
    chart_dirs = [write_message_chart(tmp_path / "src", "demo", "1.0.0")]
    flags = ("--watches-file", str(tmp_path / "watches.yaml"))
    try:
        async with running_harness(
            control_plane, kube, namespace, tmp_path, chart_dirs, flags
        ) as h:
            yield h
            for resource in (MEMCACHED, REDIS):
                await _delete_all(kube, resource, namespace)
    finally:
        for resource in (MEMCACHED, REDIS):
            await _drop_finalizers(kube, resource, namespace)


async def _delete_all(kube: client.ApiClient, resource: Resource, namespace: str) -> None:
    listing = await rest.request(kube, "GET", resource.path(namespace))
    for item in listing.get("items", []):
        await rest.delete_optional(kube, resource.path(namespace, item["metadata"]["name"]))

    async def gone() -> bool:
        return not (await rest.request(kube, "GET", resource.path(namespace))).get("items")

    await eventually(gone, within=60, what=f"every {resource.kind} uninstalled and gone")


async def _drop_finalizers(kube: client.ApiClient, resource: Resource, namespace: str) -> None:
    listing = await rest.request(kube, "GET", resource.path(namespace))
    for item in listing.get("items", []):
        path = resource.path(namespace, item["metadata"]["name"])
        body = {"metadata": {"finalizers": None}}
        with contextlib.suppress(ApiException):
            await rest.request(kube, "PATCH", path, body=body, content_type=rest.MERGE_PATCH)


async def _apply(kube: client.ApiClient, resource: Resource, ns: str, name: str, spec: Any) -> None:
    body = {
        "apiVersion": f"{resource.group}/{resource.version}",
        "kind": resource.kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
    await rest.request(
        kube,
        "PATCH",
        resource.path(ns, name),
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "e2e", "force": True},
    )


async def _condition(
    kube: client.ApiClient,
    resource: Resource,
    ns: str,
    name: str,
    type_: str,
    reason: str,
    within: float = 60,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await rest.get_optional(kube, resource.path(ns, name))
        for c in ((obj or {}).get("status") or {}).get("conditions") or []:
            if c["type"] == type_ and c["status"] == "True" and c.get("reason") == reason:
                return obj
        return None

    try:
        return await eventually(probe, within=within, what=f"{name} {type_} {reason}")
    except AssertionError:
        obj = await rest.get_optional(kube, resource.path(ns, name))
        raise AssertionError(f"{name}: {json.dumps((obj or {}).get('status'))}") from None


async def _revisions(kube: client.ApiClient, ns: str, release: str) -> list[tuple[int, str]]:
    secrets = await client.CoreV1Api(kube).list_namespaced_secret(
        ns, label_selector=f"owner=helm,name={release}"
    )
    return sorted(
        (int(s.metadata.labels["version"]), s.metadata.labels["status"]) for s in secrets.items
    )


def _shown(obj: dict[str, Any]) -> str:
    status = dict(obj.get("status") or {})
    release = status.get("deployedRelease") or {}
    if release.get("manifest"):
        status["deployedRelease"] = {**release, "manifest": f"<{len(release['manifest'])} bytes>"}
    return json.dumps(status, indent=2)


async def test_a_memcached_is_a_release_from_create_to_delete(
    watched: Harness, kube: client.ApiClient
) -> None:
    h, ns = watched, watched.namespace
    apps = client.AppsV1Api(kube)
    await _apply(kube, MEMCACHED, ns, "mc", {"replicaCount": 1})
    installed = await _condition(kube, MEMCACHED, ns, "mc", "Deployed", "InstallSuccessful")
    print("after create:", _shown(installed))
    status = installed["status"]
    assert [c["type"] for c in status["conditions"]] == ["Initialized", "Deployed"]
    assert status["deployedRelease"]["name"] == "mc"
    assert "kind: Deployment" in status["deployedRelease"]["manifest"]
    assert installed["metadata"]["finalizers"] == [FINALIZER]
    assert await _revisions(kube, ns, "mc") == [(1, "deployed")]
    deployment = await apps.read_namespaced_deployment("mc-memcached", ns)
    assert deployment.spec.replicas == 1
    assert deployment.spec.template.spec.containers[0].image == "memcached:1.6.21"  # $ENV
    [ref] = deployment.metadata.owner_references
    assert (ref.api_version, ref.kind, ref.name, ref.uid, ref.controller) == (
        f"{GROUP}/v1alpha1",
        "Memcached",
        "mc",
        installed["metadata"]["uid"],
        True,
    )
    assert deployment.metadata.labels["helm.sdk.operatorframework.io/chart"] == "memcached"

    await _apply(kube, MEMCACHED, ns, "mc", {"replicaCount": 2})
    upgraded = await _condition(kube, MEMCACHED, ns, "mc", "Deployed", "UpgradeSuccessful")
    print("after an upgrade:", _shown(upgraded))
    assert await _revisions(kube, ns, "mc") == [(1, "superseded"), (2, "deployed")]
    assert (await apps.read_namespaced_deployment("mc-memcached", ns)).spec.replicas == 2

    # A dependent deleted by hand comes back, with no new revision.
    await apps.delete_namespaced_deployment("mc-memcached", ns)

    async def restored() -> bool:
        try:
            d = await apps.read_namespaced_deployment("mc-memcached", ns)
        except ApiException:
            return False
        return d.metadata.deletion_timestamp is None and d.spec.replicas == 2

    await eventually(restored, within=60, what="the deleted Deployment put back")
    assert await _revisions(kube, ns, "mc") == [(1, "superseded"), (2, "deployed")]

    # A spec the chart cannot apply: the upgrade fails and is rolled back.
    await _apply(kube, MEMCACHED, ns, "mc", {"replicaCount": "many"})
    failed = await _condition(kube, MEMCACHED, ns, "mc", "ReleaseFailed", "UpgradeError", 90)
    print("after a failure:", _shown(failed))
    revisions = await _revisions(kube, ns, "mc")
    assert revisions[:4] == [(1, "superseded"), (2, "superseded"), (3, "failed"), (4, "deployed")]
    assert (await apps.read_namespaced_deployment("mc-memcached", ns)).spec.replicas == 2

    await _apply(kube, MEMCACHED, ns, "mc", {"replicaCount": 3})
    await _condition(kube, MEMCACHED, ns, "mc", "Deployed", "UpgradeSuccessful")

    async def fixed() -> bool:
        obj = await rest.request(kube, "GET", MEMCACHED.path(ns, "mc"))
        types = [c["type"] for c in obj["status"]["conditions"]]
        return "ReleaseFailed" not in types

    await eventually(fixed, within=30, what="ReleaseFailed cleared")

    await rest.request(kube, "DELETE", MEMCACHED.path(ns, "mc"))

    async def uninstalled() -> bool:
        gone = await rest.get_optional(kube, MEMCACHED.path(ns, "mc")) is None
        return gone and await _revisions(kube, ns, "mc") == []

    await eventually(uninstalled, within=60, what="mc uninstalled and deleted")
    with pytest.raises(ApiException):
        await apps.read_namespaced_deployment("mc-memcached", ns)
    del h


async def test_two_kinds_and_a_helmrelease_in_one_process(
    watched: Harness, kube: client.ApiClient
) -> None:
    h, ns = watched, watched.namespace
    await h.apply_release("classic", h.chart_spec())
    await _apply(kube, MEMCACHED, ns, "one", {"replicaCount": 1})
    await _apply(kube, REDIS, ns, "cache", {"maxmemory": "128mb"})
    await asyncio.gather(
        _condition(kube, MEMCACHED, ns, "one", "Deployed", "InstallSuccessful"),
        _condition(kube, REDIS, ns, "cache", "Deployed", "InstallSuccessful"),
        h.wait("classic", "Ready", "True"),
    )
    config = await client.CoreV1Api(kube).read_namespaced_config_map("cache-redis", ns)
    assert config.data == {"maxmemory": "128mb"}
    assert await _revisions(kube, ns, "cache") == [(1, "deployed")]
    assert await _revisions(kube, ns, "classic") == [(1, "deployed")]


async def test_a_failed_install_is_uninstalled(watched: Harness, kube: client.ApiClient) -> None:
    ns = watched.namespace
    await _apply(kube, MEMCACHED, ns, "broken", {"replicaCount": "many"})
    failed = await _condition(kube, MEMCACHED, ns, "broken", "ReleaseFailed", "InstallError")
    conditions = {c["type"]: c for c in failed["status"]["conditions"]}
    message = conditions["ReleaseFailed"]["message"]
    assert message.startswith("failed to install release: ")
    assert len(message) <= 4096
    assert await _revisions(kube, ns, "broken") == []


def test_a_bad_watches_file_stops_start_up_naming_line_and_field(tmp_path: Path) -> None:
    watches = tmp_path / "watches.yaml"
    watches.write_text("- group: cache.example.com\n  version: v1alpha1\n  kind: Memcached\n")
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "run", "--watches-file", str(watches)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"helmward: {watches}:1: [0].chart: field required"


async def test_a_chart_from_an_oci_registry(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "redises.yaml").write_text(yaml.safe_dump(_crd(REDIS)))
    await install_crds(kube, crds)
    chart = make_chart(
        tmp_path / "charts",
        "redis",
        version="0.3.0",
        templates={"configmap.yaml": REDIS_CONFIG},
        values={"maxmemory": "64mb"},
    )
    registry = OCIRegistry(tmp_path / "registry", "", "")
    registry.start()
    try:
        pkg = helm_package(control_plane.helm, chart, tmp_path / "pkg")
        registry.push_chart(control_plane.helm, pkg, "charts", tmp_path / "helm")
        ref = f"oci://{registry.host}/charts/redis:0.3.0"
        watches = [{"group": GROUP, "version": "v1alpha1", "kind": "Redis", "chart": ref}]
        (tmp_path / "watches.yaml").write_text(yaml.safe_dump(watches))
        flags = ("--watches-file", str(tmp_path / "watches.yaml"))
        demo = [write_message_chart(tmp_path / "src", "demo", "1.0.0")]
        try:
            async with running_harness(control_plane, kube, namespace, tmp_path, demo, flags):
                await _apply(kube, REDIS, namespace, "pulled", {"maxmemory": "32mb"})
                obj = await _condition(
                    kube, REDIS, namespace, "pulled", "Deployed", "InstallSuccessful"
                )
                assert 'maxmemory: "32mb"' in obj["status"]["deployedRelease"]["manifest"]
                await _delete_all(kube, REDIS, namespace)
        finally:
            await _drop_finalizers(kube, REDIS, namespace)
    finally:
        registry.stop()
