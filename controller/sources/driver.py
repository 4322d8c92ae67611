"""Applies a reconciler's outcome to the cluster: finalizer, status patch, events.

A reconcile starts from the object as this process last wrote it when the informer has not
caught up with that write yet (`Context.newest`), and an artifact is announced only when its
digest is not the one the status had, as source-controller does: one change, one event."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import api
from api.duration import parse_duration
from api.meta import FINALIZER, RECONCILE_REQUEST_ANNOTATION
from api.sources import GROUP
from controller.sources import (
    bucket,
    gitrepository,
    helmchart,
    helmrepository,
    ocirepository,
    unsupported,
)
from controller.sources.context import RESOURCES, Context, Failure, Outcome
from controller.sources.status import failing, failure_status, success_status
from internal.artifacts import storage as st
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException

log = logging.getLogger("helmward.sources")

Reconciler = Callable[[Context, Any], Awaitable[Outcome]]

REVISION_ANNOTATION = f"{GROUP}/revision"
DIGEST_ANNOTATION = f"{GROUP}/digest"
"""The annotations of source-controller's artifact events: the artifact's revision and
digest."""

RECONCILERS: dict[str, Reconciler] = {
    "HelmRepository": helmrepository.reconcile,
    "HelmChart": helmchart.reconcile,
    "GitRepository": gitrepository.reconcile,
    "Bucket": bucket.reconcile,
    "OCIRepository": ocirepository.reconcile,
}


METRIC_CONDITIONS = ("Ready", "Reconciling", "Stalled")


async def reconcile_object(ctx: Context, raw: dict[str, Any]) -> float | None:
    """One reconcile of a source given as it came from the API server. Returns the delay
    before the next one, or None when nothing should follow (suspended, deleted)."""
    if helmrepository.is_static(ctx.newest(raw)):
        await _make_static(ctx, ctx.newest(raw))
        return None
    start = time.monotonic()
    try:
        return await _reconcile(ctx, raw)
    finally:
        record_metrics(ctx, raw, time.monotonic() - start)


async def _make_static(ctx: Context, raw: dict[str, Any]) -> None:
    """A HelmRepository of type oci, as source-controller v1.9 has it: a static object its
    HelmCharts read. What an earlier reconcile left (artifacts, finalizer, status, gotk series)
    is removed once; after that nothing is written, and nothing is requeued."""
    meta = raw["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if ctx.metrics is not None:
        ctx.metrics.forget(raw["kind"], name, ns)
    if (raw.get("spec") or {}).get("suspend") and not meta.get("deletionTimestamp"):
        return
    finalizers = meta.get("finalizers") or []
    if FINALIZER not in finalizers and not raw.get("status"):
        return
    await asyncio.to_thread(ctx.storage.remove_all, st.artifact_dir(raw["kind"], ns, name))
    if FINALIZER in finalizers:
        patched = await _patch(
            ctx.kube,
            RESOURCES[raw["kind"]].path(ns, name),
            {
                "metadata": {
                    "finalizers": [f for f in finalizers if f != FINALIZER],
                    "resourceVersion": meta["resourceVersion"],
                }
            },
        )
        ctx.wrote(patched)
        raw = patched
    if raw.get("status"):
        await _write_status(ctx, raw, {})


def record_metrics(ctx: Context, raw: dict[str, Any], seconds: float) -> None:
    """Flux's per-object series from the object as last written; a deleted one's are dropped."""
    if ctx.metrics is None:
        return
    obj = ctx.newest(raw)
    kind, meta = obj["kind"], obj["metadata"]
    if meta.get("deletionTimestamp"):
        ctx.metrics.forget(kind, meta["name"], meta["namespace"])
        return
    conditions = {
        c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []
    }
    ctx.metrics.record_duration(kind, meta["name"], meta["namespace"], seconds)
    for type_ in METRIC_CONDITIONS:
        status = str(conditions.get(type_) or "Unknown")
        ctx.metrics.record_condition(kind, meta["name"], meta["namespace"], type_, status)
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    ctx.metrics.record_suspend(kind, meta["name"], meta["namespace"], suspended)


async def _reconcile(ctx: Context, raw: dict[str, Any]) -> float | None:
    raw = ctx.newest(raw)
    kind = raw["kind"]
    meta = raw["metadata"]
    ns, name = meta["namespace"], meta["name"]
    resource = RESOURCES[kind]

    if meta.get("deletionTimestamp"):
        await asyncio.to_thread(ctx.storage.remove_all, st.artifact_dir(kind, ns, name))
        finalizers = [f for f in meta.get("finalizers", []) if f != FINALIZER]
        await _patch(
            ctx.kube,
            resource.path(ns, name),
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
        )
        ctx.forget(raw)
        return None
    if FINALIZER not in (meta.get("finalizers") or []):
        patched = await _patch(
            ctx.kube,
            resource.path(ns, name),
            {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}},
        )
        ctx.wrote(patched)

    try:
        obj = api.parse(raw)
    except api.ParseError as exc:
        failure = Failure("FetchFailed", "InvalidSpec", str(exc), stalled=True)
        await _write_status(
            ctx,
            raw,
            failure_status(raw.get("status") or {}, failure, meta.get("generation", 0)),
        )
        return None
    spec: Any = getattr(obj, "spec", None)
    if spec is not None and spec.suspend:
        return None
    interval = (
        parse_duration(spec.interval).total_seconds()
        if spec is not None and spec.interval
        else 60.0
    )
    generation = meta.get("generation", 0)
    old = dict(raw.get("status") or {})
    requested = (meta.get("annotations") or {}).get(RECONCILE_REQUEST_ANNOTATION)
    if requested:
        old["lastHandledReconcileAt"] = requested
    try:
        unsupported.check(kind, spec)
        outcome = await RECONCILERS[kind](ctx, obj)
    except Failure as failure:
        log.info("%s %s/%s: %s", kind, ns, name, failure.message)
        if failure.withdraw:
            await asyncio.to_thread(ctx.storage.remove_all, st.artifact_dir(kind, ns, name))
        status = failure_status(old, failure, generation)
        await _write_status(ctx, raw, status)
        await ctx.events.emit(raw, failure.event_type, failure.reason, failure.message)
        return None if failure.stalled else min(interval, 30.0)
    except Exception as exc:  # a bug or an unexpected API error: report it, retry later
        log.exception("%s %s/%s: reconcile failed", kind, ns, name)
        unexpected = Failure("FetchFailed", "Failed", f"reconcile error: {exc}")
        await _write_status(ctx, raw, failure_status(old, unexpected, generation))
        return min(interval, 30.0)
    status = success_status(old, outcome, generation)
    await _write_status(ctx, raw, status)
    announced = announcement(old, outcome)
    if announced is not None:
        reason, annotations = announced
        assert outcome.notice is not None
        await ctx.events.emit(raw, "Normal", reason, outcome.notice.message, annotations)
    return interval


def announcement(old: dict[str, Any], outcome: Outcome) -> tuple[str, dict[str, str]] | None:
    """The reason and annotations of the event a successful reconcile records, if any: the
    notice's reason for an artifact whose digest is not the one `old` (the status before) had,
    its recovery reason for the same artifact after a failure; nothing otherwise. Annotated
    with the artifact's revision and digest, as source-controller does."""
    artifact, notice = outcome.artifact, outcome.notice
    if artifact is None or notice is None:
        return None
    annotations = {
        REVISION_ANNOTATION: str(artifact.get("revision", "")),
        DIGEST_ANNOTATION: str(artifact.get("digest", "")),
    }
    if (old.get("artifact") or {}).get("digest") != artifact.get("digest"):
        return notice.reason, annotations
    if failing(old):
        return notice.recovery, annotations
    return None


async def _patch(kube: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return await rest.request(kube, "PATCH", path, body=body, content_type=rest.MERGE_PATCH)


async def _write_status(ctx: Context, raw: dict[str, Any], status: dict[str, Any]) -> None:
    meta = raw["metadata"]
    if {k: v for k, v in status.items() if v is not None} == (raw.get("status") or {}):
        return  # an unchanged source costs no write
    body = {"status": {**status}}
    # Fields that were set before and are gone now must be nulled in a merge patch.
    for key in raw.get("status") or {}:
        body["status"].setdefault(key, None)
    try:
        path = RESOURCES[raw["kind"]].path(meta["namespace"], meta["name"], "status")
        written = await rest.request(
            ctx.kube, "PATCH", path, body=body, content_type=rest.MERGE_PATCH
        )
        ctx.wrote(written)
    except ApiException as exc:
        if exc.status != 404:
            raise
