#!/usr/bin/env python3
"""Helmward's dependency builds next to the stock helm CLI's, case by case.

    PYTHONPATH=. .venv/bin/python hack/bench/deps_compare.py

For every dependency test chart of hack/testkit/dependency_charts.py (an HTTPS repository with
basic auth, an oci:// registry with auth, alias, a committed Chart.lock pinning an older version,
a requirements.yaml v1 chart, a file:// dependency) it runs `helm dependency build` in a
throw-away HELM_* configuration (`helm repo add`, `helm registry login`) and the Helm engine's
`dependencies` op with the same credentials on a copy of the same input, then prints the files
under charts/ (sha256, first 16 hex) and the lock digest of both side by side. Exits 1 when a
case differs. Needs only the helm CLI built by hack/ (no control plane); the full controller path
(HelmRepository lookup by URL) is held to the same in tests/sources/test_dependencies.py.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hack.testkit.dependency_charts import (  # noqa: E402
    CASES,
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    REPO_PASSWORD,
    REPO_USER,
    SOURCE_DATE_EPOCH,
    DependencyWorld,
    built_files,
    side_by_side,
    snapshot,
)
from hack.testkit.plane import cluster_env  # noqa: E402
from internal.helm import Engine  # noqa: E402
from internal.helm.models import (  # noqa: E402
    DependenciesRequest,
    DependencyRegistry,
    DependencyRepository,
)


async def helmward_build(engine: Engine, world: DependencyWorld, case: str) -> dict[str, bytes]:
    work = world.tmp / "helmward" / case
    shutil.copytree(world.tree, work)
    chart = work / "charts" / case
    assert world.registry is not None
    await engine.dependencies(
        DependenciesRequest(
            chart_path=str(chart),
            repositories=[
                DependencyRepository(
                    url=world.repo_url,
                    username=REPO_USER,
                    password=REPO_PASSWORD,
                    ca_pem=world.ca.pem.decode(),
                )
            ],
            registries=[
                DependencyRegistry(
                    host=world.registry.host,
                    username=REGISTRY_USER,
                    password=REGISTRY_PASSWORD,
                    plain_http=True,
                )
            ],
            source_date_epoch=int(SOURCE_DATE_EPOCH),
        )
    )
    return built_files(chart)


async def main() -> int:
    _, bin_dir = cluster_env()
    engine = Engine(max_workers=4)
    with tempfile.TemporaryDirectory(prefix="helmward-deps-compare-") as tmp:
        world = DependencyWorld(Path(tmp), bin_dir / "helm")
        await world.start()
        try:
            same = True
            for case in CASES:
                theirs = await world.cli_build(case)
                ours = await helmward_build(engine, world, case)
                bytes_equal = {k: v for k, v in theirs.items() if k.startswith("charts/")} == {
                    k: v for k, v in ours.items() if k.startswith("charts/")
                }
                print(side_by_side(case, snapshot(theirs), snapshot(ours)))
                print(f"  {'charts/ bytes':<22} {'equal' if bytes_equal else 'DIFFERENT'}\n")
                same = same and bytes_equal and snapshot(theirs) == snapshot(ours)
        finally:
            await world.stop()
            engine.close()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
