"""`helmward run` as a process: health endpoints, and a HelmChart artifact served by its
artifact server at the advertised address."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_chart
from hack.testkit.kube import drop_finalizers
from hack.testkit.launcher import running_controller
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from tests.sources.conftest import Sources
from tests.sources.specs import chart_spec

pytestmark = pytest.mark.sources


async def test_helmward_run(
    control_plane: ControlPlane, kube: object, namespace: str, flux_crds: list[str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    chart = write_chart(tmp_path / "src", "podinfo", "6.0.3")
    sources = Sources(kube, namespace, None, None, None)  # type: ignore[arg-type]
    try:
        async with (
            chart_repository(control_plane.helm, [chart], repo) as charts,
            running_controller(
                control_plane.kubeconfig, tmp_path / "data", namespace=namespace, grace=15
            ) as controller,
        ):
            async with aiohttp.ClientSession() as session:

                async def up(url: str) -> bool:
                    try:
                        async with session.get(url) as resp:
                            return resp.status == 200
                    except aiohttp.ClientError:
                        return False

                health = controller.health_url
                await eventually(lambda: up(f"{health}/readyz"), within=30, what="readyz")
                assert await up(f"{health}/healthz")
                assert await up(controller.metrics_url)
            await sources.apply("HelmRepository", "charts", {"url": charts.url, "interval": "5m"})
            chart = chart_spec("podinfo", "HelmRepository", "charts", interval="5m")
            await sources.apply("HelmChart", "podinfo", chart)
            obj = await sources.ready("HelmChart", "podinfo")
            art = obj["status"]["artifact"]
            served = f"http://{controller.storage_addr}/helmchart/{namespace}"
            assert art["url"] == f"{served}/podinfo/podinfo-6.0.3.tgz"
            assert await sources.fetch_artifact(obj) == (repo / "podinfo-6.0.3.tgz").read_bytes()
            print(f"artifact {art['url']} digest {art['digest']} verified")
    finally:
        await drop_finalizers(kube, namespace)  # type: ignore[arg-type]
