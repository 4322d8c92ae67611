"""`helmward run`: every controller in one process, on the shared runtime.

Flags keep helm-controller's and source-controller's names where they exist.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from api.digests import digest
from controller.events import EventRecorder
from controller.helmrelease.reconciler import HelmReleaseReconciler, Settings
from controller.metrics import Recorder
from controller.runtime.controller import Controller, Result, spec_changed
from controller.runtime.informer import Informer, Obj
from controller.runtime.manager import Manager, Options
from controller.sources.context import Context
from controller.sources.driver import reconcile_object
from internal.artifacts.server import ArtifactServer
from internal.artifacts.storage import Storage
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube import client as kube_client
from internal.kube.resources import (
    BUCKETS,
    CONFIG_MAPS,
    GIT_REPOSITORIES,
    HELM_CHARTS,
    HELM_RELEASES,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
    SECRETS,
    key_of,
)
from internal.manager.clusters import KubeConfigOptions
from internal.sources.chart import Limits
from internal.sources.helmindex import DEFAULT_MAX_INDEX_SIZE, IndexCache

log = logging.getLogger("helmward")

M_ARENA_MAX = -8  # glibc's mallopt parameter

SOURCES = {
    "HelmRepository": HELM_REPOSITORIES,
    "GitRepository": GIT_REPOSITORIES,
    "Bucket": BUCKETS,
    "OCIRepository": OCI_REPOSITORIES,
    "HelmChart": HELM_CHARTS,
}


def _source_flags(parser: argparse.ArgumentParser) -> None:
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


def add_flags(parser: argparse.ArgumentParser) -> None:
    _source_flags(parser)
    parser.add_argument(
        "--leader-elect",
        "--enable-leader-election",
        dest="leader_elect",
        nargs="?",
        const="true",
        default="true",
        help="elect a leader (a Lease per watch scope), so a second controller for the same "
        "objects waits as a standby; =false turns it off",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("RUNTIME_NAMESPACE", ""),
        help="where the Lease lives (default: $RUNTIME_NAMESPACE, else the watched namespace, "
        "else default)",
    )
    parser.add_argument(
        "--watch-all-namespaces",
        default="true",
        help="watch every namespace (true) or only --watch-namespace",
    )
    parser.add_argument("--watch-label-selector", default="", help="shard by this label selector")
    parser.add_argument("--requeue-dependency", type=float, default=30.0, help="seconds")
    parser.add_argument("--graceful-shutdown-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--interval-jitter-percentage", type=float, default=5.0)
    parser.add_argument(
        "--default-service-account",
        default="",
        help="impersonate this service account of the release's namespace when "
        "spec.serviceAccountName is empty",
    )
    parser.add_argument(
        "--insecure-kubeconfig-exec",
        action="store_true",
        help="let kubeConfig Secrets use the user.exec section (the controller runs it)",
    )
    parser.add_argument(
        "--insecure-kubeconfig-tls",
        action="store_true",
        help="let kubeConfig Secrets disable TLS verification (insecure-skip-tls-verify)",
    )
    parser.add_argument(
        "--kube-api-qps",
        type=float,
        default=50.0,
        help="queries per second per release action (as Flux); the engine's shared budget "
        "per cluster is this times --concurrent",
    )
    parser.add_argument(
        "--engine-gogc",
        type=int,
        default=50,
        help="the Helm engine's Go GC target percentage (GOGC in the environment wins)",
    )
    parser.add_argument(
        "--kube-api-burst", type=int, default=300, help="burst above --kube-api-qps (as Flux)"
    )
    parser.add_argument("--no-cross-namespace-refs", action="store_true")
    parser.add_argument(
        "--artifact-cache",
        default="",
        help="where downloaded chart artifacts are kept (default: storage path)",
    )


async def _sample_engine(engine: Engine, metrics: Recorder, every: float = 2.0) -> None:
    while True:
        with contextlib.suppress(Exception):
            stats = await engine.stats()
            metrics.engine_heap.set(stats.heap_alloc_bytes)
            metrics.engine_inflight.set(stats.inflight_calls)
        await asyncio.sleep(every)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena; the engine's calls return their
    answers on pool threads, so a busy fleet would spread small allocations over many arenas
    that are never given back. Two keep the footprint flat (as MALLOC_ARENA_MAX=2 would)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)


async def cluster_target(
    kubeconfig: str | None, qps: float | None = None, burst: int | None = None
) -> hm.ClusterTarget:
    if kubeconfig:
        text = await asyncio.to_thread(Path(kubeconfig).read_text)
        return hm.ClusterTarget(kubeconfig=text, qps=qps, burst=burst)
    return hm.ClusterTarget(in_cluster=True, qps=qps, burst=burst)


def _source_reconcile(ctx: Context, informer: Informer) -> Any:
    async def reconcile(key: str) -> Result:
        raw = informer.get(key)
        if raw is None:
            return Result()
        after = await reconcile_object(ctx, dict(raw))
        return Result(requeue_after=after)

    return reconcile


def source_controllers(
    manager: Manager, ctx: Context, workers: int, jitter_percentage: float = 5.0
) -> dict[str, Controller]:
    """One controller per source kind on the manager, with artifact wakeups between them."""
    controllers: dict[str, Controller] = {}
    for kind, resource in SOURCES.items():
        informer = manager.informer(resource)
        ctx.cache[kind] = informer.get
        controllers[kind] = Controller(
            kind,
            informer,
            _source_reconcile(ctx, informer),
            workers=workers,
            predicate=spec_changed(),
            jitter_percentage=jitter_percentage,
        )
        manager.add(controllers[kind])
    _wire_chart_wakeups(controllers)
    return controllers


def _wire_chart_wakeups(controllers: dict[str, Controller]) -> None:
    """A source with a new artifact wakes the HelmCharts built from it."""
    charts = controllers["HelmChart"]
    revisions: dict[tuple[str, str], object] = {}

    for kind in ("HelmRepository", "GitRepository", "Bucket"):

        def on_source(event: str, obj: Obj, kind: str = kind) -> None:
            key = key_of(obj)
            # The whole artifact, not just its revision: a rewritten artifact of the same
            # revision (storage lost on a restart) must wake its charts too.
            artifact = (obj.get("status") or {}).get("artifact")
            if revisions.get((kind, key)) == artifact:
                return
            revisions[(kind, key)] = artifact
            ns = obj["metadata"].get("namespace")
            for chart_key, chart in charts.informer.store.items():
                ref = (chart.get("spec") or {}).get("sourceRef") or {}
                if ref.get("kind") == kind and f"{ns}/{ref.get('name')}" == key:
                    charts.enqueue(chart_key)

        controllers[kind].informer.add_handler(on_source)


def _wire_wakeups(
    manager: Manager,
    releases: Controller,
    reconciler: HelmReleaseReconciler,
    charts: Informer,
    oci: Informer,
) -> None:
    """Wake HelmReleases when their chart or values change, and dependents when a release
    turns Ready; the reconciler's reference index answers who, with no scan of the cache."""
    index = reconciler.index
    ready: dict[str, bool] = {}

    def on_source(kind: str) -> Any:
        def handler(event: str, source: Obj) -> None:
            for key in index.using_source(kind, key_of(source)):
                releases.enqueue(key)

        return handler

    def on_release(event: str, hr: Obj) -> None:
        key = key_of(hr)
        conds = (hr.get("status") or {}).get("conditions") or []
        now = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        was = ready.get(key, False)
        ready[key] = now
        if event == "DELETED":
            ready.pop(key, None)
        if now and not was:
            for dependent in index.dependents(key):
                releases.enqueue(dependent, urgent=True)

    def on_values(kind: str) -> Any:
        def handler(event: str, obj: Obj) -> None:
            if event == "SYNC":
                return
            for key in index.using_values(kind, key_of(obj)):
                releases.enqueue(key)

        return handler

    # Metadata-only informers: an edit of a referenced ConfigMap or Secret wakes its releases,
    # and no Secret data is ever held in memory.
    for kind, resource in (("ConfigMap", CONFIG_MAPS), ("Secret", SECRETS)):
        # Helm's own storage (labelled owner=helm) is never a values source: leaving it out
        # keeps a fleet's release records out of memory and out of this handler.
        manager.informer(
            resource, sharded=False, metadata_only=True, label_selector="owner!=helm"
        ).add_handler(on_values(kind))
    charts.add_handler(on_source("HelmChart"))
    oci.add_handler(on_source("OCIRepository"))
    releases.informer.add_handler(on_release)


LEASE_ID = "helmward-leader-election"


def lease_of(namespace: str, watch_namespace: str | None, selector: str) -> tuple[str, str]:
    """The leader-election Lease's namespace and name. Controllers of the same scope (watched
    namespace and shard selector) share one Lease, so two of them never reconcile the same
    objects at once; controllers of different scopes do not wait for each other."""
    scope = f"{watch_namespace or ''}\0{selector}"
    name = LEASE_ID if scope == "\0" else f"{LEASE_ID}-{digest(scope)[7:17]}"
    return namespace or watch_namespace or "default", name


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    configuration = await kube_client.configuration(args.kubeconfig)
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
    # The Go runtime reads GOGC when the shim loads. Helm's actions are allocation-heavy and
    # short-lived; a tighter GC keeps the controller's footprint flat across a fleet of them.
    os.environ.setdefault("GOGC", str(args.engine_gogc))
    _limit_malloc_arenas()
    engine = Engine()
    watch_all = str(args.watch_all_namespaces).lower() not in ("false", "0", "no")
    watch_namespace = None if watch_all and not args.watch_namespace else args.watch_namespace
    lease_namespace, lease_id = lease_of(
        args.leader_election_namespace, watch_namespace or None, args.watch_label_selector
    )
    options = Options(
        health_addr=args.health_addr,
        metrics_addr=args.metrics_addr,
        leader_elect=str(args.leader_elect).lower() not in ("false", "0", "no"),
        leader_election_namespace=lease_namespace,
        leader_election_id=lease_id,
        graceful_shutdown_timeout=args.graceful_shutdown_timeout,
        watch_namespace=watch_namespace or None,
        watch_label_selector=args.watch_label_selector or None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with kube_client.ApiClient(configuration) as kube:
        manager = Manager(kube, options)
        ctx = Context(
            kube=kube,
            storage=storage,
            indexes=IndexCache(args.helm_cache_max_size),
            max_index_size=args.helm_index_max_size,
            chart_limits=Limits(chart=args.helm_chart_max_size, file=args.helm_chart_file_max_size),
            helm=engine,  # one engine per process: its Go runtime and API budget are shared
        )
        source_controllers(manager, ctx, args.concurrent, args.interval_jitter_percentage)
        metrics = Recorder()
        settings = Settings(
            # Flux gives every release action its own client, each with this budget; the
            # engine shares one per cluster, so it gets what `--concurrent` actions could use.
            cluster=await cluster_target(
                args.kubeconfig,
                args.kube_api_qps * args.concurrent,
                args.kube_api_burst * args.concurrent,
            ),
            artifact_dir=Path(args.artifact_cache or storage_root / ".helmward-charts"),
            default_service_account=args.default_service_account or None,
            requeue_dependency=args.requeue_dependency,
            no_cross_namespace_refs=args.no_cross_namespace_refs,
            kubeconfig=KubeConfigOptions(
                allow_exec=args.insecure_kubeconfig_exec,
                allow_insecure_tls=args.insecure_kubeconfig_tls,
            ),
        )
        releases_informer = manager.informer(HELM_RELEASES)
        charts_informer = manager.informer(HELM_CHARTS)
        oci_informer = manager.informer(OCI_REPOSITORIES)
        reconciler = HelmReleaseReconciler(
            kube,
            engine,
            releases_informer,
            charts_informer,
            EventRecorder(kube),
            metrics,
            settings,
            oci_repositories=oci_informer,
        )
        releases = Controller(
            "HelmRelease",
            releases_informer,
            reconciler.reconcile,
            workers=args.concurrent,
            predicate=spec_changed(),
            jitter_percentage=args.interval_jitter_percentage,
        )
        manager.add(releases)
        _wire_wakeups(manager, releases, reconciler, charts_informer, oci_informer)
        sampler = asyncio.create_task(_sample_engine(engine, metrics))
        try:
            await manager.run(stop)
        finally:
            sampler.cancel()
            await artifacts.stop()
            await reconciler.close()
            engine.close()


def main(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0
