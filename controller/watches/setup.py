"""Watches mode on the shared runtime: one controller per watch, beside the HelmRelease and
source controllers, on the same manager, engine and cluster."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from controller.events import EventRecorder
from controller.metrics import Recorder
from controller.runtime.controller import Controller, spec_changed
from controller.runtime.manager import Manager
from controller.watches.dependents import Dependents
from controller.watches.reconciler import Watched, WatchReconciler
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube.client import ApiClient
from internal.kube.discovery import Discovery
from internal.manager.clusters import Cluster
from internal.watches.config import Watch

OCI = "oci://"

log = logging.getLogger(__name__)


class WatchSetupError(Exception):
    """A watch cannot run: its kind is not served, or its chart cannot be had."""


async def chart_path(engine: Engine, chart: str, cache: Path) -> Path:
    """A local chart directory or archive as it is; an OCI reference pulled once into `cache`
    through the engine's registry client, anonymously."""
    if not chart.startswith(OCI):
        return Path(chart)
    ref, tag, digest = _split_reference(chart)
    cache.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - at start-up, once
    dest = cache / f"{hashlib.sha256(chart.encode()).hexdigest()[:16]}.tgz"
    if not dest.is_file():
        request = hm.PullRequest(
            ref=ref, tag=tag, digest=digest, dest=str(dest), plain_http=_loopback(ref)
        )
        await engine.pull(request)
    return dest


def _loopback(ref: str) -> bool:
    """A registry on this machine is reached over plain HTTP, as `helm --plain-http` would be
    asked to; any other over HTTPS."""
    host = ref.removeprefix(OCI).split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "[::1]")


def _split_reference(chart: str) -> tuple[str, str | None, str | None]:
    """oci://host/repo[:tag][@digest] as (oci://host/repo, tag, digest)."""
    rest, _, digest = chart.partition("@")
    head, _, last = rest.rpartition("/")
    name, _, tag = last.partition(":")
    return f"{head}/{name}", tag or None, digest or None


async def watch_controllers(
    manager: Manager,
    api: ApiClient,
    engine: Engine,
    cluster: Cluster,
    watches: Sequence[Watch],
    *,
    workers: int,
    chart_cache: Path,
    events: EventRecorder,
    metrics: Recorder,
    jitter_percentage: float = 5.0,
) -> list[Controller]:
    discovery = Discovery(api)
    controllers = []
    for watch in watches:
        resource = await discovery.resource(watch.api_version, watch.kind)
        if resource is None:
            raise WatchSetupError(
                f"watch {watch.kind}.{watch.api_version}: the API server serves no such kind"
            )
        try:
            path = await chart_path(engine, watch.chart, chart_cache)
            info = await engine.load_chart(path)
        except Exception as exc:  # the engine's error, whatever its code
            raise WatchSetupError(f"watch {watch.kind}: chart {watch.chart}: {exc}") from exc
        if watch.dry_run_option is not None:
            log.info(
                "watch %s: dryRunOption %r has no effect: an upgrade is decided from the chart "
                "version and values the release was made of, with no dry run",
                watch.kind,
                watch.dry_run_option,
            )
        informer = manager.informer(resource, label_selector=watch.label_selector())
        watched = Watched(watch, resource, path, info)
        reconciler = WatchReconciler(api, engine, cluster, informer, watched, events, metrics)
        controller = Controller(
            watch.kind,
            informer,
            reconciler.reconcile,
            workers=watch.max_concurrent_reconciles or workers,
            predicate=spec_changed(),
            jitter_percentage=jitter_percentage,
        )
        if watch.watch_dependent_resources:
            dependents = Dependents(
                manager, discovery, watch.group, watch.kind, watched.chart_name, controller.enqueue
            )
            reconciler.on_release = dependents.watch_release
        manager.add(controller)
        controllers.append(controller)
    return controllers
