"""One watched custom resource, reconciled as operator-sdk's Helm operator does it, on the
release Manager, engine and observer every HelmRelease uses.

The first reconcile adds the uninstall finalizer. Then: Initialized; the stored release is read
(Irreconcilable when it cannot be); an object with no release installs (a failed install is
uninstalled), one whose chart or values changed upgrades (a failed upgrade is rolled back), and
one in sync has what changed in the cluster put back. Deleting the object uninstalls the release.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from api.duration import parse_duration
from controller.events import EventRecorder
from controller.metrics import Recorder
from controller.runtime.controller import Result
from controller.runtime.informer import Informer
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import Resource
from internal.manager.clusters import Cluster
from internal.manager.manager import Chart, Done
from internal.manager.options import Target
from internal.watches.config import FINALIZER, LEGACY_FINALIZER, RECONCILE_PERIOD, Watch
from internal.watches.plan import Step, next_step
from internal.watches.release import (
    WatchedObject,
    WatchManager,
    name_taken_by,
    options_of,
    owner_of,
)
from internal.watches.status import AppStatus, ConditionType, DeployedRelease, Reason
from internal.watches.values import release_values

log = logging.getLogger(__name__)

DEFAULT_PERIOD = 60.0
"""operator-sdk's --reconcile-period default."""
MAX_MESSAGE = 4096
"""Helm's errors can quote whole objects; a condition keeps their first 4 KiB."""


class WatchFailed(Exception):
    """The reconcile failed after writing why in the status; the queue backs off."""


@dataclass(frozen=True)
class Watched:
    """One watch as it runs: the kind's REST resource and the chart loaded once."""

    watch: Watch
    resource: Resource
    chart_path: Path
    chart: hm.ChartInfo

    @property
    def chart_name(self) -> str:
        return str(self.chart.metadata.get("name", ""))

    @property
    def chart_version(self) -> str:
        return str(self.chart.metadata.get("version", ""))

    def period(self, obj: WatchedObject) -> float:
        """The object's reconcile-period annotation, else the watch's, else one minute."""
        text = obj.annotations.get(RECONCILE_PERIOD) or self.watch.reconcile_period
        return parse_duration(text).total_seconds() if text else DEFAULT_PERIOD


class WatchReconciler:
    def __init__(
        self,
        api: ApiClient,
        engine: Engine,
        cluster: Cluster,
        informer: Informer,
        watched: Watched,
        events: EventRecorder,
        metrics: Recorder,
        on_release: Callable[[str, hm.Release | None], Awaitable[None]] | None = None,
    ) -> None:
        self.api = api
        self.engine = engine
        self.cluster = cluster
        self.informer = informer
        self.watched = watched
        self.events = events
        self.metrics = metrics
        self.on_release = on_release
        """Told (object key, release) after each release that stands, to watch its objects."""

    async def reconcile(self, key: str) -> Result:
        raw = self.informer.get(key)
        if raw is None:
            return Result()
        try:
            return await self._reconcile(raw)
        except ApiException as exc:
            meta = raw["metadata"]
            path = self.watched.resource.path(meta.get("namespace"), meta["name"])
            if exc.status == 404 and await rest.get_optional(self.api, path) is None:
                return Result()  # deleted while it was reconciled
            raise

    async def _reconcile(self, raw: dict[str, Any]) -> Result:
        obj = WatchedObject.of(raw)
        status = AppStatus.of(raw.get("status"))
        meta = raw.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            await self._finalize(raw, obj, status)
            return Result()
        if FINALIZER not in (meta.get("finalizers") or []):
            finalizers = [*(meta.get("finalizers") or []), FINALIZER]
            raw = await self._patch(raw, {"metadata": {"finalizers": finalizers}})
        status.set(ConditionType.INITIALIZED, True)
        try:
            mgr = self._manager(raw, obj)
        except ValueError as exc:
            await self._irreconcilable(raw, status, str(exc))
        try:
            await mgr.sync()
        except Exception as exc:  # the engine's error, whatever its code
            await self._irreconcilable(raw, status, f"failed to retrieve release history: {exc}")
        taken = name_taken_by(mgr.release, self.watched.chart_name)
        if taken:
            await self._irreconcilable(raw, status, taken)
        status.remove(ConditionType.IRRECONCILABLE)
        step = next_step(
            mgr.release, self.watched.chart_name, self.watched.chart_version, mgr.chart.values
        )
        if step is Step.UNLOCK:
            await mgr.unlock()
            step = Step.UPGRADE
        if step is Step.INSTALL:
            await self._install(raw, obj, mgr, status)
        elif step is Step.UPGRADE:
            await self._upgrade(raw, obj, mgr, status)
        else:
            await self._reconcile_release(raw, mgr, status)
        return Result(requeue_after=self.watched.period(obj))

    def _manager(self, raw: dict[str, Any], obj: WatchedObject) -> WatchManager:
        spec = raw.get("spec") or {}
        if not isinstance(spec, dict):
            raise ValueError("failed to get spec: expected an object")
        values = release_values(spec, self.watched.watch.override_values)
        hr = options_of(obj, self.watched.chart_name)
        target = Target(obj.name, obj.namespace, obj.namespace)
        chart = Chart(self.watched.chart_path, self.watched.chart, values)
        return WatchManager(self.engine, hr, target, self.cluster, chart, owner=owner_of(obj))

    # --- the steps -----------------------------------------------------------------------

    async def _install(
        self, raw: dict[str, Any], obj: WatchedObject, mgr: WatchManager, status: AppStatus
    ) -> None:
        await self._warn_overrides(raw)
        done = await self._timed(obj, "install", mgr.install_release)
        if done.failed:
            message = f"failed to install release: {done.error}"
            if done.observations:
                undone = await self._timed(obj, "uninstall", mgr.uninstall_release)
                if undone.failed:
                    message = (
                        f"failed installation ({done.error}) and failed rollback: {undone.error}"
                    )
            await self._release_failed(raw, status, Reason.INSTALL_ERROR, message)
        await self._deployed(raw, status, _written(done), Reason.INSTALL_SUCCESSFUL)

    async def _upgrade(
        self, raw: dict[str, Any], obj: WatchedObject, mgr: WatchManager, status: AppStatus
    ) -> None:
        await self._warn_overrides(raw)
        before = mgr.release
        done = await self._timed(obj, "upgrade", mgr.upgrade_release)
        if done.failed:
            if done.observations and before is not None and before.status == "deployed":
                version = before.version
                back = await self._timed(obj, "rollback", lambda: mgr.rollback_release(version))
                if back.failed:
                    log.error("error rolling back release: %s", back.error)
            message = f"upgrade failed; rolled back: {done.error}" if before else str(done.error)
            await self._release_failed(raw, status, Reason.UPGRADE_ERROR, message)
        await self._deployed(raw, status, _written(done), Reason.UPGRADE_SUCCESSFUL)

    async def _reconcile_release(
        self, raw: dict[str, Any], mgr: WatchManager, status: AppStatus
    ) -> None:
        try:
            drifted = await mgr.detect_drift([])
            if drifted:
                log.info("putting back %d changed objects", len(drifted))
                await mgr.reconcile_release(drifted)
        except (ApiException, OSError, ValueError) as exc:
            await self._irreconcilable(raw, status, f"failed to reconcile release: {exc}")
        release = mgr.release
        assert release is not None
        reason = Reason.INSTALL_SUCCESSFUL if release.version == 1 else Reason.UPGRADE_SUCCESSFUL
        await self._deployed(raw, status, release, reason)

    async def _finalize(self, raw: dict[str, Any], obj: WatchedObject, status: AppStatus) -> None:
        meta = raw.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers and LEGACY_FINALIZER not in finalizers:
            return
        mgr = self._manager(raw, obj)
        done = await self._timed(obj, "uninstall", mgr.uninstall_release)
        if done.failed:
            await self._release_failed(raw, status, Reason.UNINSTALL_ERROR, str(done.error))
        status.remove(ConditionType.RELEASE_FAILED)
        status.set(ConditionType.DEPLOYED, False, Reason.UNINSTALL_SUCCESSFUL)
        status.deployed_release = None
        raw = await self._write_status(raw, status)
        rest_of = [f for f in finalizers if f not in (FINALIZER, LEGACY_FINALIZER)]
        await self._patch(raw, {"metadata": {"finalizers": rest_of or None}})
        if self.on_release is not None:
            await self.on_release(f"{obj.namespace}/{obj.name}", None)

    # --- helpers -------------------------------------------------------------------------

    async def _timed(self, obj: WatchedObject, action: str, call: Any) -> Done:
        start = time.monotonic()
        done: Done = await call()
        self.metrics.record_action(obj.kind, action, done.failed, time.monotonic() - start)
        return done

    async def _deployed(
        self, raw: dict[str, Any], status: AppStatus, release: hm.Release | None, reason: Reason
    ) -> None:
        status.remove(ConditionType.RELEASE_FAILED)
        notes = release.notes if release is not None else ""
        status.set(ConditionType.DEPLOYED, True, reason, notes)
        if release is not None:
            status.deployed_release = DeployedRelease(name=release.name, manifest=release.manifest)
        await self._write_status(raw, status)
        if self.on_release is not None and release is not None:
            meta = raw["metadata"]
            await self.on_release(f"{meta['namespace']}/{meta['name']}", release)

    async def _fail(
        self,
        raw: dict[str, Any],
        status: AppStatus,
        type_: ConditionType,
        reason: Reason,
        message: str,
    ) -> NoReturn:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        status.set(type_, True, reason, message)
        await self._write_status(raw, status)
        await self.events.emit(raw, "Warning", str(reason), message)
        raise WatchFailed(message)

    async def _irreconcilable(
        self, raw: dict[str, Any], status: AppStatus, message: str
    ) -> NoReturn:
        await self._fail(raw, status, ConditionType.IRRECONCILABLE, Reason.RECONCILE_ERROR, message)

    async def _release_failed(
        self, raw: dict[str, Any], status: AppStatus, reason: Reason, message: str
    ) -> NoReturn:
        await self._fail(raw, status, ConditionType.RELEASE_FAILED, reason, message)

    async def _warn_overrides(self, raw: dict[str, Any]) -> None:
        for key, value in sorted(self.watched.watch.override_values.items()):
            await self.events.emit(
                raw,
                "Warning",
                "OverrideValuesInUse",
                f"Chart value {key!r} overridden to {value!r} by operator's watches.yaml",
            )

    async def _write_status(self, raw: dict[str, Any], status: AppStatus) -> dict[str, Any]:
        if status.wire() == raw.get("status"):
            return raw
        meta = raw["metadata"]
        path = self.watched.resource.path(meta.get("namespace"), meta["name"], "status")
        body = {"status": status.wire()}
        try:
            return await rest.request(
                self.api, "PATCH", path, body=body, content_type=rest.MERGE_PATCH
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        # A CRD without the status subresource: the status is part of the object.
        return await self._patch(raw, body)

    async def _patch(self, raw: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        meta = raw["metadata"]
        path = self.watched.resource.path(meta.get("namespace"), meta["name"])
        return await rest.request(self.api, "PATCH", path, body=body, content_type=rest.MERGE_PATCH)


def _written(done: Done) -> hm.Release | None:
    releases = [o.release for o in done.observations if o.release and o.operation != "delete"]
    return releases[-1] if releases else None
