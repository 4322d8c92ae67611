"""Fixtures of the sources tests: CRDs, artifact storage with its HTTP server, and the
source manager running against the test's namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from api.meta import RECONCILE_REQUEST_ANNOTATION
from api.sources import GROUP, VERSION
from controller.sources.context import RESOURCES, Context
from hack.testkit.chart_server import ChartServer
from hack.testkit.cli import helm_index, helm_package
from hack.testkit.kube import drop_finalizers
from hack.testkit.launcher import running_source_controllers
from hack.testkit.wait import eventually
from internal.artifacts.server import ArtifactServer
from internal.artifacts.storage import Storage
from internal.kube import rest
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused

pytestmark = pytest.mark.sources


@dataclass
class Sources:
    """The running source controller of one test, and helpers to drive it."""

    kube: client.ApiClient
    namespace: str
    storage: Storage
    ctx: Context
    server: ArtifactServer

    async def apply(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        custom = client.CustomObjectsApi(self.kube)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        try:
            current = await custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, RESOURCES[kind].plural, name
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            await custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, RESOURCES[kind].plural, body
            )
            return
        current["spec"] = spec
        await custom.replace_namespaced_custom_object(
            GROUP, VERSION, self.namespace, RESOURCES[kind].plural, name, current
        )

    async def get(self, kind: str, name: str) -> dict[str, Any]:
        custom = client.CustomObjectsApi(self.kube)
        obj: dict[str, Any] = await custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, RESOURCES[kind].plural, name
        )
        return obj

    async def secret(self, name: str, data: dict[str, bytes | str], type_: str = "Opaque") -> None:
        core = client.CoreV1Api(self.kube)
        await core.create_namespaced_secret(
            self.namespace,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=name),
                string_data={k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()},
                type=type_,
            ),
        )

    async def wait(
        self, kind: str, name: str, type_: str, status: str, *, within: float = 60
    ) -> dict[str, Any]:
        """The object once condition `type_` has `status` for its current generation."""
        last: dict[str, Any] = {}

        async def probe() -> dict[str, Any] | None:
            nonlocal last
            obj = await self.get(kind, name)
            last = obj
            gen = obj["metadata"].get("generation")
            for c in (obj.get("status") or {}).get("conditions") or []:
                if (
                    c["type"] == type_
                    and c.get("observedGeneration") == gen
                    and c["status"] == status
                ):
                    return obj
            return None

        try:
            return await eventually(probe, within=within, what=f"{kind} {name} {type_}={status}")
        except AssertionError as exc:
            conditions = (last.get("status") or {}).get("conditions")
            raise AssertionError(f"{exc}; conditions: {conditions}") from None

    async def reconciled(self, kind: str, name: str, token: str) -> dict[str, Any]:
        """Ask for a reconcile (Flux's requestedAt annotation) and return the object once it
        was handled."""
        patch = {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: token}}}
        await rest.request(
            self.kube,
            "PATCH",
            RESOURCES[kind].path(self.namespace, name),
            body=patch,
            content_type=rest.MERGE_PATCH,
        )

        async def handled() -> dict[str, Any] | None:
            obj = await self.get(kind, name)
            done = (obj.get("status") or {}).get("lastHandledReconcileAt") == token
            return obj if done else None

        return await eventually(handled, within=30, what=f"{kind} {name} reconciled ({token})")

    async def ready(self, kind: str, name: str, *, within: float = 60) -> dict[str, Any]:
        return await self.wait(kind, name, "Ready", "True", within=within)

    async def failed(
        self, kind: str, name: str, condition: str, *, within: float = 60
    ) -> dict[str, Any]:
        """The object once `condition` (FetchFailed, BuildFailed) is True; Ready is then False."""
        obj = await self.wait(kind, name, condition, "True", within=within)
        ready = _cond(obj, "Ready")
        assert ready["status"] == "False", ready
        return obj

    async def fetch_artifact(self, obj: dict[str, Any]) -> bytes:
        """Download the artifact from the URL in status and check its digest."""
        import hashlib

        import aiohttp

        art = obj["status"]["artifact"]
        async with aiohttp.ClientSession() as session, session.get(art["url"]) as resp:
            assert resp.status == 200, art["url"]
            data = await resp.read()
        assert art["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert art["size"] == len(data)
        return data


def _cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    raise AssertionError(f"no {type_} condition in {obj.get('status')}")


cond = _cond

S = TypeVar("S", bound=ChartServer)


@asynccontextmanager
async def chart_repository(
    tmp_path: Path, helm: Path, chart: Path, server: Callable[[Path], S] = ChartServer
) -> AsyncIterator[S]:
    """The chart directory `chart` packaged into tmp_path/repo, served there by `server` (a
    ChartServer by default) and indexed at its URL; the server stops on leaving."""
    repo = tmp_path / "repo"
    repo.mkdir()
    helm_package(helm, chart, repo)
    served = server(repo)
    await served.start()
    helm_index(helm, repo, served.url)
    try:
        yield served
    finally:
        await served.stop()


@pytest.fixture
async def sources(
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> AsyncIterator[Sources]:
    try:
        async with running_source_controllers(kube, namespace, tmp_path) as running:
            yield Sources(kube, namespace, running.storage, running.ctx, running.server)
    finally:
        await drop_finalizers(kube, namespace)
