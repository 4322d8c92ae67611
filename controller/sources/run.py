"""`helmward run`: the source reconcilers with the artifact server, metrics and health
endpoints, using source-controller's flag names."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from aiohttp import web
from kubernetes_asyncio import client, config

from controller.sources.context import Context
from controller.sources.manager import Manager
from internal.artifacts.server import ArtifactServer
from internal.artifacts.storage import Storage
from internal.sources.chart import Limits
from internal.sources.helmindex import DEFAULT_MAX_INDEX_SIZE, IndexCache


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-path",
        default=os.environ.get("STORAGE_PATH", "/data"),
        help="directory of the artifacts",
    )
    parser.add_argument("--storage-addr", default=":9090", help="address of the artifact server")
    parser.add_argument(
        "--storage-adv-addr",
        default="",
        help="address advertised in artifact URLs (default: hostname and port)",
    )
    parser.add_argument("--metrics-addr", default=":8080", help="address of /metrics")
    parser.add_argument("--health-addr", default=":9440", help="address of /healthz and /readyz")
    parser.add_argument("--watch-namespace", default="", help="only this namespace (default: all)")
    parser.add_argument("--concurrent", type=int, default=2, help="reconciles in parallel")
    parser.add_argument("--helm-index-max-size", type=int, default=DEFAULT_MAX_INDEX_SIZE)
    parser.add_argument("--helm-chart-max-size", type=int, default=Limits().chart)
    parser.add_argument("--helm-chart-file-max-size", type=int, default=Limits().file)
    parser.add_argument(
        "--helm-cache-max-size", type=int, default=16, help="parsed indexes kept in memory"
    )
    parser.add_argument("--artifact-retention-records", type=int, default=2)
    parser.add_argument("--artifact-retention-ttl", type=float, default=60.0, help="seconds")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "0.0.0.0", int(port)


def advertised(storage_addr: str, adv: str) -> str:
    if adv:
        return adv
    host, port = split_addr(storage_addr)
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"{host}:{port}"


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    configuration = client.Configuration()
    if args.kubeconfig:
        await config.load_kube_config(
            config_file=args.kubeconfig, client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    storage_root = Path(args.storage_path)
    storage = Storage(
        storage_root,
        advertised(args.storage_addr, args.storage_adv_addr),
        retention_records=args.artifact_retention_records,
        retention_ttl=args.artifact_retention_ttl,
    )
    host, port = split_addr(args.storage_addr)
    artifacts = ArtifactServer(storage_root, host, port)
    await artifacts.start()

    async with client.ApiClient(configuration) as kube:
        ctx = Context(
            kube=kube,
            storage=storage,
            indexes=IndexCache(args.helm_cache_max_size),
            max_index_size=args.helm_index_max_size,
            chart_limits=Limits(chart=args.helm_chart_max_size, file=args.helm_chart_file_max_size),
        )
        manager = Manager(ctx, namespace=args.watch_namespace or None, workers=args.concurrent)
        side = await _side_servers(args, manager)
        try:
            await manager.run()
        finally:
            for runner in side:
                await runner.cleanup()
            await artifacts.stop()


async def _side_servers(args: argparse.Namespace, manager: Manager) -> list[web.AppRunner]:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        return (
            web.Response(text="ok")
            if manager.ready.is_set()
            else web.Response(status=503, text="starting")
        )

    runners = []
    for addr, routes in (
        (args.metrics_addr, [("/metrics", metrics)]),
        (args.health_addr, [("/healthz", healthz), ("/readyz", readyz)]),
    ):
        app = web.Application()
        for path, handler in routes:
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = split_addr(addr)
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
    return runners


def main(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0
