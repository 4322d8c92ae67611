"""`helmward run` as a process: health endpoints, and a HelmChart artifact served by its
artifact server at the advertised address."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.sources.conftest import Sources
from tests.sources.servers import ChartServer, helm_index, helm_package, write_chart
from tests.support import ControlPlane, eventually

pytestmark = pytest.mark.sources


REPO = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_helmward_run(
    control_plane: ControlPlane, kube: object, namespace: str, flux_crds: list[str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    helm_package(control_plane.helm, write_chart(tmp_path / "src", "podinfo", "6.0.3"), repo)
    charts = ChartServer(repo)
    await charts.start()
    helm_index(control_plane.helm, repo, charts.url)
    storage, metrics, health = _port(), _port(), _port()
    proc = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "controller.cli",
            "run",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--watch-namespace",
            namespace,
            "--storage-path",
            str(tmp_path / "data"),
            "--storage-addr",
            f"127.0.0.1:{storage}",
            "--storage-adv-addr",
            f"127.0.0.1:{storage}",
            "--metrics-addr",
            f"127.0.0.1:{metrics}",
            "--health-addr",
            f"127.0.0.1:{health}",
        ],
        cwd=REPO,
        env={**os.environ},
    )
    sources = Sources(kube, namespace, None, None, None)  # type: ignore[arg-type]
    try:
        async with aiohttp.ClientSession() as session:

            async def up(path: str, port: int) -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(lambda: up("/readyz", health), within=30, what="readyz")
            assert await up("/healthz", health)
            assert await up("/metrics", metrics)
        await sources.apply("HelmRepository", "charts", {"url": charts.url, "interval": "5m"})
        await sources.apply(
            "HelmChart",
            "podinfo",
            {
                "chart": "podinfo",
                "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                "interval": "5m",
            },
        )
        obj = await sources.ready("HelmChart", "podinfo")
        art = obj["status"]["artifact"]
        assert (
            art["url"]
            == f"http://127.0.0.1:{storage}/helmchart/{namespace}/podinfo/podinfo-6.0.3.tgz"
        )
        assert await sources.fetch_artifact(obj) == (repo / "podinfo-6.0.3.tgz").read_bytes()
        print(f"artifact {art['url']} digest {art['digest']} verified")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await charts.stop()
        from tests.sources.conftest import _drop_finalizers

        await _drop_finalizers(kube, namespace)  # type: ignore[arg-type]
