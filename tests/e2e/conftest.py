"""The whole controller as a process (`helmward run`) against the local control plane, with a
real chart repository on 127.0.0.1 whose charts the helm CLI packaged and indexed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import create_helm_repository, drop_finalizers
from hack.testkit.launcher import Controller, running_controller
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused

pytestmark = pytest.mark.e2e

# What every e2e controller runs with, besides its namespace and addresses.
CONTROLLER_FLAGS = ("--requeue-dependency", "5", "--concurrent", "6")


@dataclass
class Harness:
    kube: client.ApiClient
    namespace: str
    repo_url: str
    helm: Path
    kubeconfig: Path
    work_dir: Path
    controller: Controller | None = None
    flags: tuple[str, ...] = ()

    async def apply_release(self, name: str, spec: dict[str, Any]) -> None:
        body = {
            "apiVersion": HELM_RELEASES.api_version,
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        await rest.request(
            self.kube,
            "PATCH",
            HELM_RELEASES.path(self.namespace, name),
            body=body,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": "e2e", "force": True},
        )

    def chart_spec(self, chart: str = "demo", version: str = "*") -> dict[str, Any]:
        return {
            "chart": {
                "spec": {
                    "chart": chart,
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                    "interval": "1m",
                }
            },
            "interval": "5m",
        }

    async def get(self, name: str) -> dict[str, Any]:
        return await rest.request(self.kube, "GET", HELM_RELEASES.path(self.namespace, name))

    async def wait(
        self, name: str, type_: str, status: str, *, reason: str | None = None, within: float = 90
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.get(name)
            for c in (obj.get("status") or {}).get("conditions") or []:
                if (
                    c["type"] == type_
                    and c["status"] == status
                    and (reason is None or c["reason"] == reason)
                ):
                    return obj
            return None

        try:
            return await eventually(probe, within=within, what=f"{name} {type_}={status}")
        except AssertionError:
            obj = await self.get(name)
            raise AssertionError(f"{name}: {obj.get('status')}") from None

    async def metrics(self) -> str:
        import aiohttp

        assert self.controller is not None
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.controller.metrics_url) as resp,
        ):
            return await resp.text()

    def restart(self) -> AbstractAsyncContextManager[Controller]:
        """A second controller, started when entered (after the first one was killed)."""
        return e2e_controller(
            self.kubeconfig, self.namespace, self.work_dir, *self.flags, log_name="controller-2.log"
        )

    async def tamper(self, release: str) -> None:
        """Edit the release's ConfigMap by hand, as drift."""
        await client.CoreV1Api(self.kube).patch_namespaced_config_map(
            f"{release}-config", self.namespace, {"data": {"message": "tampered"}}
        )

    async def request_reconcile(self, name: str, token: str) -> None:
        """What `flux reconcile` does: `token` as the reconcile request annotation."""
        await rest.request(
            self.kube,
            "PATCH",
            HELM_RELEASES.path(self.namespace, name),
            body={"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}},
            content_type=rest.MERGE_PATCH,
        )

    async def config(self, release: str) -> dict[str, str]:
        cm = await client.CoreV1Api(self.kube).read_namespaced_config_map(
            f"{release}-config", self.namespace
        )
        return dict(cm.data or {})


def e2e_controller(
    kubeconfig: Path, namespace: str, tmp: Path, *extra: str, log_name: str = "controller.log"
) -> AbstractAsyncContextManager[Controller]:
    """`helmward run` watching the test's namespace, its log in `tmp/log_name`."""
    return running_controller(
        kubeconfig,
        tmp / "data",
        namespace=namespace,
        flags=(*CONTROLLER_FLAGS, *extra),
        log=tmp / log_name,
    )


@pytest.fixture
def controller_flags() -> tuple[str, ...]:
    """Extra flags of the harness's controller; a test module overrides this fixture."""
    return ()


@pytest.fixture
async def harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    controller_flags: tuple[str, ...],
) -> AsyncIterator[Harness]:
    chart_dirs = [
        write_message_chart(tmp_path / "src", "demo", version, test_hook=True)
        for version in ("1.0.0", "1.1.0")
    ]
    # A chart of another name, for a release whose chart is replaced.
    chart_dirs.append(write_message_chart(tmp_path / "src", "other", "1.0.0"))
    async with running_harness(
        control_plane, kube, namespace, tmp_path, chart_dirs, controller_flags
    ) as h:
        yield h


@contextlib.asynccontextmanager
async def running_harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    chart_dirs: list[Path],
    flags: tuple[str, ...] = (),
) -> AsyncIterator[Harness]:
    """A chart repository of `chart_dirs`, its HelmRepository "charts", and a controller run
    with `flags`; on leaving, the releases are deleted and the controller's log is printed."""
    async with chart_repository(control_plane.helm, chart_dirs, tmp_path / "repo") as charts:
        h = Harness(
            kube,
            namespace,
            charts.url,
            control_plane.helm,
            control_plane.kubeconfig,
            tmp_path,
            flags=flags,
        )
        try:
            await create_helm_repository(kube, namespace, charts.url)
            async with e2e_controller(
                control_plane.kubeconfig, namespace, tmp_path, *flags
            ) as controller:
                h.controller = controller
                yield h
                await _delete_releases(h)
        finally:
            await drop_finalizers(kube, namespace)
            log = tmp_path / "controller.log"
            if log.exists():
                print(log.read_text()[-6000:])


@pytest.fixture
async def elsewhere(kube: client.ApiClient, namespace: str) -> AsyncIterator[str]:
    """A second namespace, beside the test's own."""
    core = client.CoreV1Api(kube)
    name = f"{namespace[:50]}-other"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    await core.delete_namespace(name)


async def _delete_releases(h: Harness) -> None:
    """Delete every HelmRelease while the controller runs, so finalizers are honoured."""
    listing = await rest.request(h.kube, "GET", HELM_RELEASES.path(h.namespace))
    for item in listing.get("items", []):
        with contextlib.suppress(ApiException):
            await rest.request(
                h.kube, "DELETE", HELM_RELEASES.path(h.namespace, item["metadata"]["name"])
            )

    async def gone() -> bool:
        left = await rest.request(h.kube, "GET", HELM_RELEASES.path(h.namespace))
        return not left.get("items")

    with contextlib.suppress(AssertionError):
        await eventually(gone, within=60, what="HelmReleases finalized")
