"""The whole controller as a process (`helmward run`) against the local control plane, with a
real chart repository on 127.0.0.1 whose charts the helm CLI packaged and indexed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from internal.kube import rest
from internal.kube.resources import HELM_RELEASES, HELM_REPOSITORIES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused
from tests.sources.servers import ChartServer, helm_index, helm_package
from tests.support import REPO_ROOT, ControlPlane, eventually

pytestmark = pytest.mark.e2e


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_chart(root: Path, name: str, version: str, *, test_hook: bool = False) -> Path:
    """A chart with a ConfigMap showing its values, and optionally a test hook pod that fails
    when `.Values.failTest` is set (through the KWOK failure label)."""
    d = root / f"{name}-{version}"
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n"
    )
    (d / "values.yaml").write_text("message: hello\nfailTest: false\n")
    (d / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  message: {{ .Values.message | quote }}\n"
        "  chartVersion: {{ .Chart.Version | quote }}\n"
    )
    if test_hook:
        (d / "templates" / "test.yaml").write_text(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n"
            "  annotations:\n    helm.sh/hook: test\n"
            "    helm.sh/hook-delete-policy: before-hook-creation\n"
            "  labels:\n"
            '{{- if .Values.failTest }}\n    kwok.helmward.io/fail: "true"\n{{- end }}\n'
            "    app: test\n"
            "spec:\n  restartPolicy: Never\n"
            "  containers:\n  - name: t\n    image: busybox:1.36\n"
        )
    (d / "templates" / "hang.yaml").write_text(
        "{{- if .Values.hang }}\napiVersion: v1\nkind: Pod\nmetadata:\n"
        "  name: {{ .Release.Name }}-hang\n"
        "  annotations:\n    helm.sh/hook: post-install,post-upgrade\n"
        "    helm.sh/hook-delete-policy: before-hook-creation\n"
        "spec:\n  restartPolicy: Always\n"
        "  containers:\n  - name: h\n    image: busybox:1.36\n{{- end }}\n"
    )
    return d


@dataclass
class Harness:
    kube: client.ApiClient
    namespace: str
    repo_url: str
    helm: Path
    kubeconfig: Path
    controller: asyncio.subprocess.Process | None = None

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
            http.get(self.controller.metrics_url) as resp,  # type: ignore[attr-defined]
        ):
            return await resp.text()

    async def config(self, release: str) -> dict[str, str]:
        cm = await client.CoreV1Api(self.kube).read_namespaced_config_map(
            f"{release}-config", self.namespace
        )
        return dict(cm.data or {})


@contextlib.asynccontextmanager
async def running_controller(
    plane: ControlPlane, namespace: str, tmp: Path, *extra: str, log_name: str = "controller.log"
) -> AsyncIterator[asyncio.subprocess.Process]:
    storage, metrics = _port(), _port()
    log = (tmp / log_name).open("w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "run",
        "--kubeconfig",
        str(plane.kubeconfig),
        "--watch-namespace",
        namespace,
        "--watch-all-namespaces",
        "false",
        "--storage-path",
        str(tmp / "data"),
        "--storage-addr",
        f"127.0.0.1:{storage}",
        "--storage-adv-addr",
        f"127.0.0.1:{storage}",
        "--metrics-addr",
        f"127.0.0.1:{metrics}",
        "--health-addr",
        f"127.0.0.1:{_port()}",
        "--requeue-dependency",
        "5",
        "--concurrent",
        "6",
        *extra,
        cwd=REPO_ROOT,
        env={**os.environ},
        stdout=log,
        stderr=log,
    )
    proc.metrics_url = f"http://127.0.0.1:{metrics}/metrics"  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


@pytest.fixture
async def harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    repo = tmp_path / "repo"
    repo.mkdir()
    src = tmp_path / "src"
    for version in ("1.0.0", "1.1.0"):
        helm_package(control_plane.helm, write_chart(src, "demo", version, test_hook=True), repo)
    charts = ChartServer(repo)
    await charts.start()
    helm_index(control_plane.helm, repo, charts.url)
    h = Harness(kube, namespace, charts.url, control_plane.helm, control_plane.kubeconfig)
    body = {
        "apiVersion": HELM_REPOSITORIES.api_version,
        "kind": "HelmRepository",
        "metadata": {"name": "charts", "namespace": namespace},
        "spec": {"url": charts.url, "interval": "5m"},
    }
    await rest.request(kube, "POST", HELM_REPOSITORIES.path(namespace), body=body)
    try:
        async with running_controller(control_plane, namespace, tmp_path) as proc:
            h.controller = proc
            h.restart = lambda: running_controller(  # type: ignore[attr-defined]
                control_plane, namespace, tmp_path, log_name="controller-2.log"
            )
            yield h
            await _delete_releases(h)
    finally:
        await charts.stop()
        await _drop_finalizers(kube, namespace)
        log = tmp_path / "controller.log"
        if log.exists():
            print(log.read_text()[-6000:])


async def _drop_finalizers(kube: client.ApiClient, namespace: str) -> None:
    """With the controller gone, nothing removes its finalizers: drop them so the test's
    namespace can be deleted."""
    from tests.sources.conftest import _drop_finalizers as drop_sources

    await drop_sources(kube, namespace)
    listing = await rest.request(kube, "GET", HELM_RELEASES.path(namespace))
    for item in listing.get("items", []):
        with contextlib.suppress(ApiException):
            await rest.request(
                kube,
                "PATCH",
                HELM_RELEASES.path(namespace, item["metadata"]["name"]),
                body={"metadata": {"finalizers": None}},
                content_type=rest.MERGE_PATCH,
            )


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
