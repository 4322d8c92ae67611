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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.digests import digest
from api.duration import SECOND, DurationError, format_duration, parse_duration_ns
from controller import logs
from controller.events import EventRecorder
from controller.helmrelease.reconciler import HelmReleaseReconciler, Settings
from controller.metrics import Recorder
from controller.notify import ForwardingRecorder
from controller.runtime.controller import Controller, Result, spec_changed
from controller.runtime.informer import Informer, Obj
from controller.runtime.manager import Manager, Options
from controller.runtime.ratelimit import MAX_RETRY_DELAY, MIN_RETRY_DELAY
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


GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def go_bool(text: str) -> bool:
    """A boolean flag's value as Go's strconv.ParseBool reads it (`--flag=false`)."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def go_duration(text: str) -> float:
    """Seconds in a Go duration (`5s`, `1m30s`, `1h`), or in a plain number of seconds."""
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        return parse_duration_ns(text) / SECOND
    except DurationError:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a Go duration such as 30s, 1m30s or 1h"
        ) from None


def _sha256_only(text: str) -> str:
    if text.lower() != "sha256":
        raise argparse.ArgumentTypeError(f"{text!r} is not supported: Helmward digests with sha256")
    return text.lower()


FEATURE_GATES: dict[str, str] = {
    # helm-controller's (internal/features/features.go) and source-controller's, with
    # fluxcd/pkg/auth's ObjectLevelWorkloadIdentity: every one is off by default in Flux.
    "AdditiveCELDependencyCheck": "no effect: dependsOn readyExpr is checked as Flux's default",
    "AdoptLegacyReleases": "no effect (Flux ignores it too since helm-controller v1.5.0)",
    "AllowDNSLookups": "no effect: templates render with Helm's default, no DNS lookups",
    "CacheSecretsAndConfigMaps": "no effect: values objects are read from the API server and "
    "watched metadata-only",
    "CancelHealthCheckOnNewRevision": "no effect: a running health check is not cancelled",
    "CorrectDrift": "no effect (deprecated in Flux, unused there): use spec.driftDetection",
    "DefaultToRetryOnFailure": "no effect: the default strategy stays RemediateOnFailure",
    "DetectDrift": "no effect (deprecated in Flux, unused there): use spec.driftDetection",
    "DirectSourceFetch": "no effect: sources are read from the informers' cache",
    "DisableChartDigestTracking": "no effect: OCI chart digests are tracked, Flux's default",
    "DisableConfigWatchers": "no effect: referenced ConfigMaps and Secrets are watched",
    "ExternalArtifact": "no effect: a chartRef to an ExternalArtifact is not supported yet",
    "OOMWatch": "no effect: there is no OOM watcher (the --oom-watch-* flags neither)",
    "ObjectLevelWorkloadIdentity": "no effect: workload identity is not supported",
    "UseHelm3Defaults": "no effect: Helm 4's defaults apply",
}
"""Every gate Flux's helm-controller or source-controller knows, and what it does here."""


def feature_gates(text: str) -> dict[str, bool]:
    """`A=true,B=false`, as Flux's --feature-gates; a gate Flux does not know is an error."""
    gates: dict[str, bool] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise argparse.ArgumentTypeError(f"missing bool value for {name}")
        if name not in FEATURE_GATES:
            raise argparse.ArgumentTypeError(f"feature-gate '{name}' not supported")
        try:
            gates[name] = go_bool(value.strip())
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"invalid value of {name}: {value.strip()}, err: parse bool"
            ) from None
    return gates


class _Merge(argparse.Action):
    """A repeated --feature-gates adds to the earlier ones, as Flux's map flag does."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        merged = dict(getattr(namespace, self.dest) or {})
        merged.update(values)
        setattr(namespace, self.dest, merged)


class _Extend(argparse.Action):
    """pflag's string slice: comma-separated, and repeated flags add up."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        items = list(getattr(namespace, self.dest) or [])
        items.extend(v for v in str(values).split(",") if v)
        setattr(namespace, self.dest, items)


def _bool(
    parser: argparse.ArgumentParser, *names: str, default: bool, help: str, dest: str = ""
) -> None:
    """A Go boolean flag: bare is true, `=true` and `=false` say which."""
    parser.add_argument(
        *names,
        dest=dest or names[0].lstrip("-").replace("-", "_"),
        nargs="?",
        const=True,
        default=default,
        type=go_bool,
        metavar="true|false",
        help=help,
    )


def _duration(parser: argparse.ArgumentParser, name: str, default: float | None, help: str) -> None:
    shown = "unset" if default is None else format_duration(int(default * SECOND))
    parser.add_argument(
        name,
        type=go_duration,
        default=default,
        metavar="DURATION",
        help=f"{help} (a Go duration such as 30s or 1m30s, or seconds; default {shown})",
    )


NO_EFFECT = "accepted for Flux, no effect in Helmward"


def _source_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-path",
        default=os.environ.get("STORAGE_PATH") or "/data",
        help="directory of the artifacts",
    )
    parser.add_argument(
        "--storage-addr",
        default=os.environ.get("STORAGE_ADDRESS") or ":9090",
        help="address of the artifact server",
    )
    parser.add_argument(
        "--storage-adv-addr",
        default=os.environ.get("STORAGE_ADV_ADDR") or "",
        help="host[:port] advertised in artifact URLs (default: hostname and port)",
    )
    parser.add_argument(
        "--metrics-addr", default=os.environ.get("METRICS_ADDR") or ":8080", help="/metrics"
    )
    parser.add_argument("--health-addr", default=":9440", help="address of /healthz and /readyz")
    parser.add_argument(
        "--events-addr",
        default=os.environ.get("EVENTS_ADDR") or "",
        help="notification-controller's address: every event is also posted there, as Flux",
    )
    parser.add_argument("--watch-namespace", default="", help="only this namespace (default: all)")
    parser.add_argument("--concurrent", type=int, default=2, help="reconciles in parallel")
    parser.add_argument("--helm-index-max-size", type=int, default=DEFAULT_MAX_INDEX_SIZE)
    parser.add_argument("--helm-chart-max-size", type=int, default=Limits().chart)
    parser.add_argument("--helm-chart-file-max-size", type=int, default=Limits().file)
    parser.add_argument(
        "--helm-cache-max-size", type=int, default=16, help="parsed indexes kept in memory"
    )
    _duration(
        parser, "--helm-cache-ttl", 15 * 60.0, f"{NO_EFFECT}: cached indexes are keyed by digest"
    )
    _duration(parser, "--helm-cache-purge-interval", 60.0, NO_EFFECT)
    parser.add_argument("--artifact-retention-records", type=int, default=2)
    _duration(parser, "--artifact-retention-ttl", 60.0, "how long a superseded artifact stays")
    parser.add_argument(
        "--artifact-digest-algo", type=_sha256_only, default="sha256", help="sha256 only"
    )
    for name in ("--ssh-kex-algos", "--ssh-hostkey-algos"):
        parser.add_argument(name, action=_Extend, default=[], help=NO_EFFECT)
    parser.add_argument("--token-cache-max-size", type=int, default=100, help=NO_EFFECT)
    _duration(parser, "--token-cache-max-duration", 3600.0, NO_EFFECT)
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
        "--log-level",
        default="info",
        help="trace, debug, info or error, as Flux (another value means info)",
    )
    parser.add_argument(
        "--log-encoding",
        default="console",
        help="json (one object per line, controller-runtime's keys) or console",
    )
    parser.add_argument(
        "--feature-gates",
        type=feature_gates,
        action=_Merge,
        default={},
        metavar="A=true,B=false",
        help="Flux's feature gates (docs/decisions.md says what each does here)",
    )
    _bool(
        parser,
        "--leader-elect",
        "--enable-leader-election",
        dest="leader_elect",
        default=True,
        help="elect a leader (a Lease per watch scope), so a second controller for the same "
        "objects waits as a standby; =false turns it off",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("RUNTIME_NAMESPACE", ""),
        help="where the Lease lives (default: $RUNTIME_NAMESPACE, else the watched namespace, "
        "else default)",
    )
    _bool(
        parser,
        "--leader-election-release-on-cancel",
        default=True,
        help="give the Lease up on shutdown (Helmward always does)",
    )
    _duration(parser, "--leader-election-lease-duration", None, "the Lease's duration (15s)")
    _duration(parser, "--leader-election-renew-deadline", None, "the leader's renew deadline (10s)")
    _duration(parser, "--leader-election-retry-period", None, "candidates' retry period (2s)")
    _bool(
        parser,
        "--watch-all-namespaces",
        default=True,
        help="watch every namespace; =false watches --watch-namespace, else $RUNTIME_NAMESPACE",
    )
    parser.add_argument("--watch-label-selector", default="", help="shard by this label selector")
    parser.add_argument(
        "--watch-configs-label-selector",
        default="reconcile.fluxcd.io/watch=Enabled",
        help=f"{NO_EFFECT}: every ConfigMap and Secret a release references is watched",
    )
    _duration(parser, "--requeue-dependency", 30.0, "retry interval of unready dependencies")
    _duration(parser, "--graceful-shutdown-timeout", 600.0, "time given to reconciles on stop")
    _duration(parser, "--min-retry-delay", MIN_RETRY_DELAY, "first delay after a failure")
    _duration(parser, "--max-retry-delay", MAX_RETRY_DELAY, "cap of the failure backoff")
    parser.add_argument("--interval-jitter-percentage", type=float, default=5.0)
    parser.add_argument(
        "--default-service-account",
        default="",
        help="impersonate this service account of the release's namespace when "
        "spec.serviceAccountName is empty",
    )
    parser.add_argument("--default-kubeconfig-service-account", default="", help=NO_EFFECT)
    _bool(
        parser,
        "--insecure-kubeconfig-exec",
        default=False,
        help="let kubeConfig Secrets use the user.exec section (the controller runs it)",
    )
    _bool(
        parser,
        "--insecure-kubeconfig-tls",
        default=False,
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
    _bool(
        parser,
        "--no-cross-namespace-refs",
        default=False,
        help="refuse references to objects in other namespaces",
    )
    parser.add_argument("--http-retry", type=int, default=9, help=NO_EFFECT)
    _duration(parser, "--http-timeout", 30.0, NO_EFFECT)
    parser.add_argument("--oom-watch-memory-threshold", type=int, default=95, help=NO_EFFECT)
    _duration(parser, "--oom-watch-interval", 0.5, NO_EFFECT)
    parser.add_argument("--oom-watch-max-memory-path", default="", help=NO_EFFECT)
    parser.add_argument("--oom-watch-current-memory-path", default="", help=NO_EFFECT)
    parser.add_argument(
        "--snapshot-digest-algo", type=_sha256_only, default="sha256", help="sha256 only"
    )
    parser.add_argument("--override-manager", action="append", default=[], help=NO_EFFECT)
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


def watch_namespace_of(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The one namespace watched, or None for all. As Flux, --watch-all-namespaces=false
    watches $RUNTIME_NAMESPACE; Helmward's --watch-namespace names one explicitly."""
    if args.watch_namespace:
        return str(args.watch_namespace)
    if args.watch_all_namespaces:
        return None
    return environ.get("RUNTIME_NAMESPACE") or None


NO_EFFECT_FLAGS = (
    "helm_cache_ttl",
    "helm_cache_purge_interval",
    "ssh_kex_algos",
    "ssh_hostkey_algos",
    "token_cache_max_size",
    "token_cache_max_duration",
    "watch_configs_label_selector",
    "default_kubeconfig_service_account",
    "http_retry",
    "http_timeout",
    "oom_watch_memory_threshold",
    "oom_watch_interval",
    "oom_watch_max_memory_path",
    "oom_watch_current_memory_path",
    "override_manager",
)


def without_effect(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """What was set that Helmward accepts for Flux but does not act on (one line each)."""
    notes = []
    for dest in NO_EFFECT_FLAGS:
        value = getattr(args, dest)
        if value != parser.get_default(dest):
            notes.append(f"--{dest.replace('_', '-')}={value}: accepted for Flux, no effect")
    for gate, enabled in sorted(args.feature_gates.items()):
        notes.append(f"feature gate {gate}={str(enabled).lower()}: {FEATURE_GATES[gate]}")
    if not args.leader_election_release_on_cancel:
        notes.append("--leader-election-release-on-cancel=false: the Lease is released anyway")
    return notes


async def run(args: argparse.Namespace) -> None:
    logs.setup(args.log_level, args.log_encoding)
    if args.log_level not in logs.LEVELS:
        log.info("unknown --log-level %r: logging at info, as Flux", args.log_level)
    if args.log_encoding not in logs.ENCODINGS:
        log.info("unknown --log-encoding %r: writing json, as Flux", args.log_encoding)
    defaults = argparse.ArgumentParser(add_help=False)
    add_flags(defaults)
    for note in without_effect(args, defaults):
        log.info(note)
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
        )
        recorder = EventRecorder(kube)
        if args.events_addr:
            # As Flux's: Kubernetes Events, and each posted to notification-controller.
            ctx.events = ForwardingRecorder(kube, ctx.events.component, args.events_addr)
            recorder = ForwardingRecorder(kube, recorder.component, args.events_addr)
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
            recorder,
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
        for each in manager.controllers:
            each.queue.backoff.base = args.min_retry_delay
            each.queue.backoff.cap = args.max_retry_delay
        _wire_wakeups(manager, releases, reconciler, charts_informer, oci_informer)
        sampler = asyncio.create_task(_sample_engine(engine, metrics))
        try:
            await manager.run(stop)
        finally:
            sampler.cancel()
            await artifacts.stop()
            await reconciler.close()
            for sink in (recorder, ctx.events):
                if isinstance(sink, ForwardingRecorder):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(sink.drain(), 10)
            engine.close()


def main(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0
