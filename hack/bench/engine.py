#!/usr/bin/env python3
"""Benchmark of the Helm engine against the local control plane.

    .venv/bin/python hack/bench/engine.py [--iterations 10] [--parallel 1,10,50]

It prints:
  1. per action (install, upgrade, get, uninstall), the median wall time through the binding
     and through the stock helm CLI (built by hack/) on the same chart, and the binding's own
     overhead: wall time in Python minus the time the shim measured for the action;
  2. 1, 10 and 50 parallel installs into separate namespaces, with the client cache (one target
     shared by all calls) and without it (every call builds its clients, discovery and OpenAPI
     afresh), with the API requests each run sent.

Starts the control plane if it is not up (and leaves it up). Not part of `make test`."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kubernetes_asyncio import client  # noqa: E402

from hack.testkit import charts  # noqa: E402
from hack.testkit.cli import helm_cli  # noqa: E402
from hack.testkit.kube import api_client  # noqa: E402
from hack.testkit.plane import ControlPlane, ensure_control_plane  # noqa: E402
from internal.helm import Engine  # noqa: E402
from internal.helm.models import (  # noqa: E402
    ClusterTarget,
    GetRequest,
    InstallRequest,
    UninstallRequest,
    UpgradeRequest,
)

TIMEOUT = timedelta(minutes=5)


async def helm(plane: ControlPlane, *args: str) -> float:
    """Wall ms of one stock helm CLI command."""
    started = time.perf_counter()
    await helm_cli(plane, *args)
    return (time.perf_counter() - started) * 1000


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(wall ms, shim ms) of one engine call."""
    started = time.perf_counter()
    outcome = await call()
    wall = (time.perf_counter() - started) * 1000
    shim = getattr(outcome, "duration_ms", None)
    return wall, shim if shim is not None else wall


async def per_action(
    engine: Engine, target: ClusterTarget, plane: ControlPlane, chart: Path, ns: str, n: int
) -> None:
    rows: dict[str, dict[str, list[float]]] = {}

    def add(action: str, kind: str, value: float) -> None:
        rows.setdefault(action, {}).setdefault(kind, []).append(value)

    for i in range(n):
        name = f"b{i}"
        ref = {"release_name": name, "namespace": ns}
        wall, shim = await timed(
            lambda ref=ref: engine.install(
                InstallRequest(**ref, chart=chart, timeout=TIMEOUT), cluster=target
            )
        )
        add("install", "engine", wall)
        add("install", "overhead", wall - shim)
        wall, shim = await timed(
            lambda ref=ref: engine.upgrade(
                UpgradeRequest(**ref, chart=chart, values={"message": "x"}, timeout=TIMEOUT),
                cluster=target,
            )
        )
        add("upgrade", "engine", wall)
        add("upgrade", "overhead", wall - shim)
        wall, shim = await timed(lambda ref=ref: engine.get(GetRequest(**ref), cluster=target))
        add("get", "engine", wall)
        add("get", "overhead", wall - shim)
        wall, shim = await timed(
            lambda ref=ref: engine.uninstall(
                UninstallRequest(**ref, timeout=TIMEOUT), cluster=target
            )
        )
        add("uninstall", "engine", wall)
        add("uninstall", "overhead", wall - shim)

        cli = f"c{i}"
        wait = ("--wait=watcher", "--timeout=5m")
        add("install", "cli", await helm(plane, "install", cli, str(chart), "-n", ns, *wait))
        add(
            "upgrade",
            "cli",
            await helm(plane, "upgrade", cli, str(chart), "-n", ns, "--set", "message=x", *wait),
        )
        add("get", "cli", await helm(plane, "get", "all", cli, "-n", ns))
        add("uninstall", "cli", await helm(plane, "uninstall", cli, "-n", ns, *wait))

    print(
        f"\nPer action, median of {n} (ms); chart: Deployment + ConfigMap + Service, wait=watcher"
    )
    print(
        f"  {'action':<10} {'engine':>8} {'helm CLI':>9} {'engine/CLI':>11}"
        f" {'binding overhead':>17}"
    )
    for action, r in rows.items():
        e, c, o = (statistics.median(r[k]) for k in ("engine", "cli", "overhead"))
        print(f"  {action:<10} {e:8.1f} {c:9.1f} {e / c:10.2f}x {o:16.2f}")
    print(
        "  binding overhead = wall time of the Python call minus the time the shim measured "
        "(JSON, ctypes, thread hop)"
    )


async def parallel(
    engine: Engine,
    target: ClusterTarget,
    core: client.CoreV1Api,
    chart: Path,
    sizes: list[int],
) -> None:
    print("\nParallel installs, one namespace each (wall seconds; API requests sent)")
    print(
        f"  {'N':>3} {'cache':>6} {'seconds':>8} {'per install':>12} "
        f"{'discovery':>10} {'openapi':>8} {'other':>7}"
    )
    for n in sizes:
        for cached in (True, False):
            run = uuid.uuid4().hex[:6]
            namespaces = [f"bench-{run}-{i}" for i in range(n)]
            await asyncio.gather(
                *(
                    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
                    for ns in namespaces
                )
            )
            tgt = target.model_copy(update={"cache": cached})
            before = await engine.stats()
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    engine.install(
                        InstallRequest(
                            release_name="p", namespace=ns, chart=chart, timeout=TIMEOUT
                        ),
                        cluster=tgt,
                    )
                    for ns in namespaces
                )
            )
            elapsed = time.perf_counter() - started
            after = await engine.stats()
            d = after.requests.discovery - before.requests.discovery
            o = after.requests.openapi - before.requests.openapi
            x = after.requests.other - before.requests.other
            label = "yes" if cached else "no"
            print(
                f"  {n:>3} {label:>6} {elapsed:8.2f} {elapsed / n * 1000:10.0f}ms "
                f"{d:>10} {o:>8} {x:>7}"
            )
            await asyncio.gather(*(core.delete_namespace(ns) for ns in namespaces))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--parallel", default="1,10,50")
    parser.add_argument("--qps", type=float, default=500.0)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()

    plane = ensure_control_plane()
    engine = Engine()
    print(f"engine: {engine.version().model_dump()}")
    target = ClusterTarget(kubeconfig=plane.kubeconfig.read_text(), qps=args.qps, burst=args.burst)
    print(f"client-side rate limit per target: qps={args.qps:g} burst={args.burst}")
    async with api_client(plane.kubeconfig) as api:
        core = client.CoreV1Api(api)
        with TemporaryDirectory() as tmp:
            chart = charts.make_chart(
                Path(tmp),
                templates={
                    "deployment.yaml": charts.DEPLOYMENT,
                    "configmap.yaml": charts.CONFIGMAP,
                    "service.yaml": charts.SERVICE,
                },
            )
            ns = f"bench-{uuid.uuid4().hex[:6]}"
            await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            try:
                await per_action(engine, target, plane, chart, ns, args.iterations)
            finally:
                await core.delete_namespace(ns)
            await parallel(engine, target, core, chart, [int(s) for s in args.parallel.split(",")])
    engine.close()


if __name__ == "__main__":
    asyncio.run(main())
