"""`helmward run`: every controller in one process, on the shared runtime.

Flags keep helm-controller's and source-controller's names where they exist.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller import logs
from controller import metrics as metrics_
from controller.events import EventRecorder
from controller.flags import (
    add_flags,
    advertised,
    lease_of,
    split_addr,
    watch_namespace_of,
    without_effect,
)
from controller.helmrelease.reconciler import HelmReleaseReconciler, Settings
from controller.helmrelease.refs import RefSettings
from controller.metrics import Recorder
from controller.notify import ForwardingRecorder
from controller.runtime import heapdump
from controller.runtime.controller import Controller, Result, spec_changed
from controller.runtime.informer import Informer, Obj
from controller.runtime.manager import Manager, Options
from controller.runtime.oomwatch import watch_memory
from controller.runtime.refindex import RefIndex
from controller.sources.context import Context
from controller.sources.driver import reconcile_object
from controller.sources.helmrepository import is_static
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
from internal.manager import records
from internal.manager.clusters import KubeConfigOptions
from internal.memory import malloc, pages, tls
from internal.memory.cgroup import MemoryFileError, WatchPlan, plan
from internal.sources.chart import Limits
from internal.sources.helmindex import IndexCache
from internal.watches.config import Watch, WatchesError, configured

log = logging.getLogger("helmward")

MALLOC_ARENAS = 2
"""glibc's arenas: the engine's answers arrive on pool threads, each of which would get one."""

SOURCES = {
    "HelmRepository": HELM_REPOSITORIES,
    "GitRepository": GIT_REPOSITORIES,
    "Bucket": BUCKETS,
    "OCIRepository": OCI_REPOSITORIES,
    "HelmChart": HELM_CHARTS,
}


async def _sample_engine(engine: Engine, metrics: Recorder, every: float = 2.0) -> None:
    while True:
        with contextlib.suppress(Exception):
            metrics.record_engine(await engine.stats())
        await asyncio.sleep(every)


async def cluster_target(
    kubeconfig: str | None, qps: float | None = None, burst: int | None = None
) -> hm.ClusterTarget:
    if kubeconfig:
        text = await asyncio.to_thread(Path(kubeconfig).read_text)
        return hm.ClusterTarget(kubeconfig=text, qps=qps, burst=burst)
    return hm.ClusterTarget(in_cluster=True, qps=qps, burst=burst)


def _source_reconcile(ctx: Context, kind: str, informer: Informer) -> Any:
    async def reconcile(key: str) -> Result:
        raw = informer.get(key)
        if raw is None:
            if ctx.metrics is not None:
                ns, _, name = key.partition("/")
                ctx.metrics.forget(kind, name, ns)
            return Result()
        after = await reconcile_object(ctx, dict(raw))
        newest = ctx.newest(dict(raw))
        # A static OCI HelmRepository has no Ready to fail: Flux returns no error for it.
        return Result(requeue_after=after, failed=not (_ready(newest) or is_static(newest)))

    return reconcile


def _ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


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
            _source_reconcile(ctx, kind, informer),
            workers=workers,
            predicate=spec_changed(),
            jitter_percentage=jitter_percentage,
        )
        manager.add(controllers[kind])
    _wire_chart_wakeups(controllers)
    _wire_include_wakeups(controllers["GitRepository"])
    return controllers


def _chart_sources(chart: Obj) -> list[tuple[str, str]]:
    """The (kind, 'namespace/name') of the source a HelmChart is built from."""
    ref = (chart.get("spec") or {}).get("sourceRef") or {}
    if not ref.get("kind") or not ref.get("name"):
        return []
    return [(str(ref["kind"]), f"{chart['metadata'].get('namespace')}/{ref['name']}")]


def _wire_chart_wakeups(controllers: dict[str, Controller]) -> None:
    """A source with a new artifact wakes the HelmCharts built from it."""
    charts = controllers["HelmChart"]
    built_from = RefIndex(_chart_sources)
    charts.informer.add_handler(built_from.on_event)
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
            for chart_key in built_from.referring((kind, key)):
                charts.enqueue(chart_key)

        controllers[kind].informer.add_handler(on_source)


def _included(repo: Obj) -> list[str]:
    """The 'namespace/name' of each GitRepository a GitRepository includes."""
    ns = repo["metadata"].get("namespace")
    includes = (repo.get("spec") or {}).get("include") or []
    names = ((i.get("repository") or {}).get("name") for i in includes)
    return [f"{ns}/{name}" for name in names if name]


def _wire_include_wakeups(repos: Controller) -> None:
    """A GitRepository with an artifact of a new revision wakes the GitRepositories that
    include it. The revision, not the digest: an including artifact is rebuilt at the same
    revision, so repositories that include each other do not wake each other for ever."""
    including = RefIndex(_included)
    repos.informer.add_handler(including.on_event)
    revisions: dict[str, object] = {}

    def on_repository(event: str, obj: Obj) -> None:
        key = key_of(obj)
        revision = ((obj.get("status") or {}).get("artifact") or {}).get("revision")
        if event == "DELETED":
            revisions.pop(key, None)
        elif revisions.get(key) == revision:
            return
        else:
            revisions[key] = revision
        for other_key in including.referring(key):
            if other_key != key:
                repos.enqueue(other_key)

    repos.informer.add_handler(on_repository)


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


def _store_sizes(manager: Manager) -> str:
    return "informer stores: " + ", ".join(f"{name} {n}" for name, n in manager.store_sizes())


class OOMWatchSetupError(Exception):
    """The OOMWatch gate is on but the watcher cannot start: the controller does not run."""


def _oom_watch_plan(args: argparse.Namespace) -> WatchPlan | None:
    """The OOM watcher's plan when the OOMWatch gate is on, else None."""
    if not args.feature_gates.get("OOMWatch"):
        return None
    try:
        watch = plan(
            args.oom_watch_max_memory_path,
            args.oom_watch_current_memory_path,
            args.oom_watch_memory_threshold,
            args.oom_watch_interval,
        )
    except MemoryFileError as exc:
        raise OOMWatchSetupError(f"unable to set up the OOM watcher: {exc}") from None
    log.info(
        "setting up the OOM watcher: shutting down at %d%% of %d bytes (usage from %s)",
        watch.threshold,
        watch.limit,
        watch.current_path,
    )
    return watch


async def run(args: argparse.Namespace, watches: Sequence[Watch] = ()) -> None:
    logs.setup(args.log_level, args.log_encoding)
    if args.log_level not in logs.LEVELS:
        log.info("unknown --log-level %r: logging at info, as Flux", args.log_level)
    if args.log_encoding not in logs.ENCODINGS:
        log.info("unknown --log-encoding %r: writing json, as Flux", args.log_encoding)
    defaults = argparse.ArgumentParser(add_help=False)
    add_flags(defaults)
    for note in without_effect(args, defaults):
        log.info(note)
    oom_watch = _oom_watch_plan(args)
    tls.limit_read_buffer()
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
    os.environ["HELMWARD_FIELD_MANAGER"] = args.field_manager
    if "MALLOC_ARENA_MAX" not in os.environ:
        malloc.limit_arenas(MALLOC_ARENAS)
    engine = Engine()
    watch_namespace = watch_namespace_of(args, os.environ)
    lease_namespace, lease_id = lease_of(
        args.leader_election_namespace, watch_namespace or None, args.watch_label_selector
    )
    options = Options(
        health_addr=args.health_addr,
        metrics_addr=args.metrics_addr,
        leader_elect=args.leader_elect,
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
        heapdump.install(loop, os.environ, lambda: _store_sizes(manager))
        manager.cancellers.append(engine.cancel_all)
        if manager.elector is not None:
            for name in ("lease_duration", "renew_deadline", "retry_period"):
                value = getattr(args, f"leader_election_{name}")
                if value is not None:
                    setattr(manager.elector, name, value)
        ctx = Context(
            kube=kube,
            storage=storage,
            indexes=IndexCache(args.helm_cache_max_size),
            max_index_size=args.helm_index_max_size,
            chart_limits=Limits(chart=args.helm_chart_max_size, file=args.helm_chart_file_max_size),
            helm=engine,  # one engine per process: its Go runtime and API budget are shared
            shard_selector=args.watch_label_selector or None,
        )
        metrics = metrics_.default()
        manager.expositions.append(metrics.objects.render)
        ctx.metrics = metrics
        recorder = EventRecorder(kube)
        if args.events_addr:
            # As Flux's: Kubernetes Events, and each posted to notification-controller.
            dropped = metrics.record_dropped_event
            ctx.events = ForwardingRecorder(kube, ctx.events.component, args.events_addr, dropped)
            recorder = ForwardingRecorder(kube, recorder.component, args.events_addr, dropped)
        source_controllers(manager, ctx, args.concurrent, args.interval_jitter_percentage)
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
            refs=RefSettings(
                all_releases=args.values_refs,
                ambient=args.values_ambient_credentials,
                ttl=args.values_refs_ttl,
                azure_any_resource=args.values_azure_any_resource,
            ),
            kubeconfig=KubeConfigOptions(
                allow_exec=args.insecure_kubeconfig_exec,
                allow_insecure_tls=args.insecure_kubeconfig_tls,
            ),
        )
        releases_informer = manager.informer(HELM_RELEASES)
        # As Flux's helm-controller: only HelmReleases are sharded; the chart sources they read
        # are seen whichever shard reconciles them (the source controllers' own are sharded).
        charts_informer = manager.informer(HELM_CHARTS, sharded=False)
        oci_informer = manager.informer(OCI_REPOSITORIES, sharded=False)
        # Helm's storage Secrets, metadata only and slimmed: what tells an in-sync release.
        storage_informer = manager.informer(
            SECRETS,
            sharded=False,
            metadata_only=True,
            label_selector=records.LABEL_SELECTOR,
            transform=records.slim,
        )
        reconciler = HelmReleaseReconciler(
            kube,
            engine,
            releases_informer,
            charts_informer,
            recorder,
            metrics,
            settings,
            oci_repositories=oci_informer,
            storage=storage_informer,
        )
        releases = Controller(
            "HelmRelease",
            releases_informer,
            reconciler.reconcile,
            workers=args.concurrent,
            predicate=spec_changed(),
            jitter_percentage=args.interval_jitter_percentage,
            # A restart's first reconciles read these too: a HelmChart informer not yet listed
            # would have each template applied again (a write per release).
            waits_for=[storage_informer, charts_informer, oci_informer],
        )
        manager.add(releases)
        for each in manager.controllers:
            each.queue.backoff.base = args.min_retry_delay
            each.queue.backoff.cap = args.max_retry_delay
        _wire_wakeups(manager, releases, reconciler, charts_informer, oci_informer)
        if watches:
            # Watches mode (and its reconciler) is imported only when a watches file is given.
            from controller.watches.setup import watch_controllers

            await watch_controllers(
                manager,
                kube,
                engine,
                reconciler.managers.clusters.local,
                watches,
                workers=args.concurrent,
                chart_cache=storage_root / ".helmward-watches",
                events=EventRecorder(kube),
                metrics=metrics,
                jitter_percentage=args.interval_jitter_percentage,
            )
            for each in manager.controllers:
                each.queue.backoff.base = args.min_retry_delay
                each.queue.backoff.cap = args.max_retry_delay
        sampler = asyncio.create_task(_sample_engine(engine, metrics))
        # Everything is imported and the engine's Go init has run: what code it touched once
        # goes back to the page cache (internal/memory/pages.py).
        released = pages.release_clean_pages()
        log.debug("released %d KiB of start-up code pages", released)
        # Near the memory limit the watcher sets the same event as SIGTERM: the graceful path.
        watcher = asyncio.create_task(watch_memory(oom_watch, stop)) if oom_watch else None
        try:
            await manager.run(stop)
        finally:
            sampler.cancel()
            if watcher is not None:
                watcher.cancel()
            await artifacts.stop()
            await reconciler.close()
            for sink in (recorder, ctx.events):
                if isinstance(sink, ForwardingRecorder):
                    with contextlib.suppress(Exception):
                        await sink.drain(grace=5)
            engine.close()


def main(args: argparse.Namespace) -> int:
    try:
        watches = configured(args.watches_file, os.environ)
    except WatchesError as exc:
        print(f"helmward: {exc}", file=sys.stderr)
        return 1
    setup_errors: tuple[type[Exception], ...] = (OOMWatchSetupError,)
    if watches:
        from controller.watches.setup import WatchSetupError

        setup_errors += (WatchSetupError,)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args, watches))
    except setup_errors as exc:
        print(f"helmward: {exc}", file=sys.stderr)
        return 1
    return 0
