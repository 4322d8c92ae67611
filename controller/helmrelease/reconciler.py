"""The HelmRelease reconciler: Flux's pipeline, then the atomic release loop.

Pipeline: finalizer, suspend, HelmChart, dependsOn (with cycles named), chart artifact, values,
release target, failure-counter resets. Then the loop: determine the state (pure), choose the
next step (pure), run it through the engine, fold the storage observations into the history,
write the status, and look again. Each kind of action runs at most once per reconcile.
"""

from __future__ import annotations

import base64
import copy
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

import api
from api.digests import digest
from api.duration import parse_duration
from api.helmrelease import HelmRelease
from api.meta import (
    FINALIZER,
    FORCE_REQUEST_ANNOTATION,
    RECONCILE_REQUEST_ANNOTATION,
    RESET_REQUEST_ANNOTATION,
)
from api.naming import (
    chart_source_namespace,
    helm_chart_name,
    release_name,
    storage_namespace,
    target_namespace,
)
from controller.events import EventRecorder
from controller.helmrelease.artifacts import ArtifactCache, ArtifactError
from controller.metrics import Recorder
from controller.runtime.controller import Result
from controller.runtime.informer import Informer
from internal.dag.graph import Graph, describe_cycle
from internal.dag.readiness import InvalidExpression, dependency_ready
from internal.drift.diff import IgnoreRule, Selector, mask_secret_patch, summarize
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube import rest
from internal.kube.discovery import Discovery
from internal.kube.resources import HELM_CHARTS, HELM_RELEASES
from internal.manager import options
from internal.manager.clusters import Cluster, KubeConfigError
from internal.manager.manager import Done, Manager, ManagerFactory
from internal.release import conditions as cond
from internal.release import health
from internal.release import history as hist
from internal.release.plan import (
    KIND_OF,
    Action,
    Context,
    Kind,
    Outcome,
    Policy,
    Remediation,
    RollbackTarget,
    Strategy,
    after_step,
    may_run,
    next_step,
)
from internal.release.state import (
    Desired,
    Observed,
    ReleaseState,
    SnapshotView,
    determine_state,
    with_drift,
)
from internal.values.compose import Reference, ValuesError, compose

log = logging.getLogger(__name__)

KIND = "HelmRelease"
FIELD_MANAGER = "helmward"
TOKEN_ANNOTATION = "helm.toolkit.fluxcd.io/token"
REVISION_ANNOTATION = "helm.toolkit.fluxcd.io/revision"
CHART_INFO_CACHE = 256
METRIC_CONDITIONS = ("Ready", "Reconciling", "Stalled")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Settings:
    cluster: hm.ClusterTarget
    artifact_dir: Path
    default_service_account: str | None = None
    requeue_dependency: float = 30.0
    no_cross_namespace_refs: bool = False


class Retry(Exception):
    """Fail this reconcile so the queue backs off; the status already says why."""


@dataclass
class Work:
    """One reconcile's view of its HelmRelease: the raw object, its model, the new status."""

    raw: dict[str, Any]
    hr: HelmRelease
    status: dict[str, Any]
    generation: int
    events: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.hr.metadata.namespace}/{self.hr.metadata.name}"

    def condition(self, type_: str, status: str, reason: str, message: str) -> None:
        self.status["conditions"] = cond.set_condition(
            self.status.get("conditions") or [],
            type_,
            status,
            reason,
            message,
            generation=self.generation,
            now=_now(),
        )

    def drop(self, type_: str) -> None:
        self.status["conditions"] = cond.delete(self.status.get("conditions") or [], type_)


class HelmReleaseReconciler:
    def __init__(
        self,
        api_client: ApiClient,
        engine: Engine,
        releases: Informer,
        charts: Informer,
        events: EventRecorder,
        metrics: Recorder,
        settings: Settings,
        oci_repositories: Informer | None = None,
    ) -> None:
        self.api = api_client
        self.engine = engine
        self.releases = releases
        self.charts = charts
        self.sources: dict[str, Informer] = {"HelmChart": charts}
        if oci_repositories is not None:
            self.sources["OCIRepository"] = oci_repositories
        self.events = events
        self.metrics = metrics
        self.settings = settings
        self.artifacts = ArtifactCache(settings.artifact_dir)
        self.managers = ManagerFactory(
            engine, Cluster(settings.cluster, api_client, Discovery(api_client))
        )
        self._charts: OrderedDict[Path, hm.ChartInfo] = OrderedDict()
        self._edges: dict[str, list[str]] = {}
        self._graph: Graph | None = None
        releases.add_handler(self._on_release)

    def _on_release(self, event: str, obj: dict[str, Any]) -> None:
        """Keep the dependsOn edges current; the graph is rebuilt only when they change."""
        key, deps = _edges_of(obj)
        if event == "DELETED":
            changed = self._edges.pop(key, None) is not None
        else:
            changed = self._edges.get(key) != deps
            self._edges[key] = deps
        if changed:
            self._graph = None

    def dependency_graph(self) -> Graph:
        if self._graph is None:
            self._graph = Graph.build(self._edges)
        return self._graph

    async def _load_chart(self, path: Path) -> hm.ChartInfo:
        """The chart's metadata, read once per artifact (the path names its digest)."""
        info = self._charts.get(path)
        if info is None:
            info = await self.engine.load_chart(path)
            self._charts[path] = info
            while len(self._charts) > CHART_INFO_CACHE:
                self._charts.popitem(last=False)
        else:
            self._charts.move_to_end(path)
        return info

    # --- entry -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        raw = self.releases.get(key)
        if raw is None:
            ns, _, name = key.partition("/")
            self.metrics.forget(KIND, name, ns)
            return Result()
        start = time.monotonic()
        raw = copy.deepcopy(raw)
        try:
            hr = api.parse(raw)
        except api.ParseError as exc:
            log.error("%s: %s", key, exc)
            return Result()
        assert isinstance(hr, HelmRelease)
        work = Work(raw, hr, copy.deepcopy(raw.get("status") or {}), hr.metadata.generation or 0)
        try:
            return await self._reconcile(work)
        finally:
            ns, name = hr.metadata.namespace or "", hr.metadata.name or ""
            self.metrics.record_duration(KIND, name, ns, time.monotonic() - start)
            conditions = {c["type"]: c["status"] for c in work.status.get("conditions") or []}
            # The condition types fluxcd/pkg records (Ready, Reconciling, Stalled), each with
            # Unknown when absent, as Flux does: 9 series per release.
            for type_ in METRIC_CONDITIONS:
                status = conditions.get(type_, "Unknown")
                self.metrics.record_condition(KIND, name, ns, type_, status)
            self.metrics.record_suspend(KIND, name, ns, bool(hr.spec.suspend))
            for type_, reason, message in work.events:
                await self.events.emit(work.raw, type_, reason, message, self._annotations(work))

    async def _reconcile(self, work: Work) -> Result:
        hr = work.hr
        if hr.metadata.deletion_timestamp is not None:
            await self._finalize(work)
            return Result()
        if FINALIZER not in (hr.metadata.finalizers or []):
            await self._patch_meta(
                work, {"finalizers": [*(hr.metadata.finalizers or []), FINALIZER]}
            )
        if hr.spec.suspend:
            log.info("%s is suspended", work.key)
            return Result()

        annotations = hr.metadata.annotations or {}
        requested = annotations.get(RECONCILE_REQUEST_ANNOTATION)
        interval = parse_duration(hr.spec.interval).total_seconds()
        try:
            result = await self._pipeline(work)
        except Retry:
            if requested:
                work.status["lastHandledReconcileAt"] = requested
            await self._write_status(work)
            raise
        if requested:
            work.status["lastHandledReconcileAt"] = requested
        await self._write_status(work)
        return result if result is not None else Result(requeue_after=interval)

    # --- pipeline --------------------------------------------------------------------------

    async def _pipeline(self, work: Work) -> Result | None:
        hr = work.hr
        if hr.spec.chart is not None:
            await self._apply_helm_chart(work)
            work.status["helmChart"] = f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}"

        blocked = self._dependencies(work)
        if blocked is not None:
            return blocked

        chart = self._chart_artifact(work)
        if chart is None:
            return Result(requeue_after=self.settings.requeue_dependency, jitter=False)
        try:
            chart_path = await self.artifacts.fetch(chart["url"], chart["digest"])
        except ArtifactError as exc:
            return self._not_ready(work, "ArtifactFailed", str(exc), retry=True)
        try:
            info = await self._load_chart(chart_path)
        except herr.HelmError as exc:
            return self._not_ready(
                work, "ArtifactFailed", f"could not load chart: {exc}", retry=True
            )

        try:
            values = await self._values(work)
        except ValuesError as exc:
            work.events.append(("Warning", "ValuesError", str(exc)))
            return self._not_ready(work, "ValuesError", str(exc), retry=True)
        config_digest = digest(values)
        try:
            health.validate(self._health_checks(work))
        except health.InvalidHealthCheck as exc:
            work.condition("Stalled", "True", "InvalidHealthCheck", str(exc))
            return self._not_ready(work, "InvalidHealthCheck", str(exc))

        target = options.Target(release_name(hr), target_namespace(hr), storage_namespace(hr))
        try:
            cluster = await self._cluster(work)
        except KubeConfigError as exc:
            return self._not_ready(work, "RESTClientError", str(exc), retry=True)
        moved = await self._uninstall_if_moved(work, target, cluster)
        if moved is not None:
            return moved

        revision = str(info.metadata.get("version", ""))
        if chart.get("sourceKind") == "OCIRepository":
            # As Flux: the chart version plus the artifact digest, so a re-pushed tag upgrades.
            oci_digest = str(chart.get("digest", ""))
            revision = f"{revision}+{oci_digest.partition(':')[2][:12]}"
            work.status["lastAttemptedRevisionDigest"] = oci_digest
        self._reset_failures(work, revision, config_digest)
        work.status["lastAttemptedGeneration"] = work.generation
        work.status["lastAttemptedRevision"] = revision
        work.status["lastAttemptedConfigDigest"] = config_digest
        work.status["storageNamespace"] = target.storage_namespace
        work.status["helmChart"] = (
            f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}" if hr.spec.chart else None
        )
        mgr = self.managers.new_manager(
            hr, target, cluster, chart=chart_path, values=values, info=info
        )
        await self._atomic(work, mgr, info, config_digest)
        return None

    async def _apply_helm_chart(self, work: Work) -> None:
        hr = work.hr
        assert hr.spec.chart is not None
        tmpl = hr.spec.chart
        spec = tmpl.spec.model_dump(by_alias=True, exclude_none=True)
        spec.pop("interval", None)
        spec["interval"] = hr.spec.effective_chart_interval()
        spec["sourceRef"] = {"kind": tmpl.spec.source_ref.kind, "name": tmpl.spec.source_ref.name}
        spec.setdefault("version", "*")
        meta: dict[str, Any] = {
            "name": helm_chart_name(hr),
            "namespace": chart_source_namespace(hr),
        }
        if tmpl.metadata is not None:
            if tmpl.metadata.labels:
                meta["labels"] = tmpl.metadata.labels
            if tmpl.metadata.annotations:
                meta["annotations"] = tmpl.metadata.annotations
        body = {
            "apiVersion": HELM_CHARTS.api_version,
            "kind": "HelmChart",
            "metadata": meta,
            "spec": spec,
        }
        path = HELM_CHARTS.path(meta["namespace"], meta["name"])
        if _already_applied(self.charts.get(f"{meta['namespace']}/{meta['name']}"), body):
            return  # an in-sync release costs no write for its chart
        await rest.request(
            self.api,
            "PATCH",
            path,
            body=body,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": FIELD_MANAGER, "force": True},
        )

    def _dependencies(self, work: Work) -> Result | None:
        hr = work.hr
        deps = hr.spec.depends_on or []
        stalled = cond.get(work.status.get("conditions") or [], "Stalled") or {}
        if stalled.get("reason") in (
            "DependencyCycle",
            "InvalidCELExpression",
            "InvalidHealthCheck",
        ):
            work.drop("Stalled")
        if not deps:
            return None
        graph = self.dependency_graph()
        cycle = graph.cycle_of(work.key)
        if cycle is not None:
            message = f"dependency cycle: {describe_cycle(cycle)}"
            work.condition("Ready", "False", "DependencyCycle", message)
            work.condition("Stalled", "True", "DependencyCycle", message)
            work.events.append(("Warning", "DependencyCycle", message))
            return Result()
        work.drop("Stalled")
        for dep in deps:
            dep_key = f"{dep.namespace or hr.metadata.namespace}/{dep.name}"
            obj = self.releases.get(dep_key)
            if obj is None:
                message = f"dependency '{dep_key}' not found"
            else:
                try:
                    readiness = dependency_ready(work.raw, obj, dep.ready_expr)
                except InvalidExpression as exc:
                    work.condition("Ready", "False", "InvalidCELExpression", str(exc))
                    work.condition("Stalled", "True", "InvalidCELExpression", str(exc))
                    return Result()
                if readiness.ready:
                    continue
                message = readiness.message
            work.condition("Ready", "False", "DependencyNotReady", message)
            work.events.append(("Normal", "DependencyNotReady", message))
            # Event-driven: the dependency's Ready transition enqueues this object at once;
            # the timer only covers dependencies that never become Ready.
            return Result(requeue_after=self.settings.requeue_dependency, jitter=False)
        return None

    def _chart_artifact(self, work: Work) -> dict[str, Any] | None:
        hr = work.hr
        kind = "HelmChart"
        if hr.spec.chart is not None:
            key = f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}"
        else:
            assert hr.spec.chart_ref is not None
            kind = str(hr.spec.chart_ref.kind)
            key = f"{chart_source_namespace(hr)}/{hr.spec.chart_ref.name}"
        informer = self.sources.get(kind)
        if informer is None:
            self._not_ready(work, "ArtifactFailed", f"chartRef kind {kind} is not supported")
            return None
        source = informer.get(key)
        if source is None:
            self._not_ready(work, "SourceNotReady", f"{kind} '{key}' not found")
            return None
        status = source.get("status") or {}
        artifact = status.get("artifact")
        ready: dict[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        observed = status.get("observedGeneration") == source["metadata"].get("generation")
        if not artifact or not observed:
            why = ready.get("message") or "no artifact yet"
            self._not_ready(work, "SourceNotReady", f"{kind} '{key}' is not ready: {why}")
            return None
        out = dict(artifact)
        out["sourceKind"] = kind
        return out

    async def _values(self, work: Work) -> dict[str, Any]:
        hr = work.hr
        ns = hr.metadata.namespace or "default"
        refs = [
            Reference(
                kind=r.kind.value,
                name=r.name,
                values_key=r.values_key or "values.yaml",
                target_path=r.target_path or "",
                optional=bool(r.optional),
                literal=bool(getattr(r, "literal", False)),
            )
            for r in hr.spec.values_from or []
        ]

        async def lookup(kind: str, name: str) -> Mapping[str, bytes] | None:
            plural = "secrets" if kind == "Secret" else "configmaps"
            try:
                obj = await rest.request(
                    self.api, "GET", f"/api/v1/namespaces/{ns}/{plural}/{name}"
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            if kind == "Secret":
                return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
            return {k: v.encode() for k, v in (obj.get("data") or {}).items()}

        inline = hr.spec.values if isinstance(hr.spec.values, dict) else {}
        return await compose(refs, inline, ns, lookup)

    async def _uninstall_if_moved(
        self, work: Work, target: options.Target, cluster: Cluster
    ) -> Result | None:
        history = work.status.get("history") or []
        if not history:
            return None
        latest = history[0]
        old_storage = work.status.get("storageNamespace") or target.storage_namespace
        if (latest["name"], latest["namespace"], old_storage) == (
            target.release_name,
            target.namespace,
            target.storage_namespace,
        ):
            return None
        old = options.Target(latest["name"], latest["namespace"], old_storage)
        done = await self.managers.new_manager(work.hr, old, cluster).uninstall_release()
        if done.error is not None:
            return self._not_ready(
                work,
                "UninstallFailed",
                f"failed to uninstall the previous release: {done.error}",
                retry=True,
            )
        work.status["history"] = []
        work.status.pop("inventory", None)
        work.events.append(
            (
                "Normal",
                "UninstallSucceeded",
                f"Uninstalled previous release {old.namespace}/{old.release_name}",
            )
        )
        return Result(requeue_after=0, jitter=False)

    def _reset_failures(self, work: Work, chart_version: str, config_digest: str) -> None:
        s = work.status
        annotations = work.hr.metadata.annotations or {}
        reset_at = annotations.get(RESET_REQUEST_ANNOTATION)
        requested = annotations.get(RECONCILE_REQUEST_ANNOTATION)
        reset_requested = (
            bool(reset_at) and reset_at == requested and (reset_at != s.get("lastHandledResetAt"))
        )
        changed = (
            s.get("lastAttemptedGeneration") != work.generation
            or s.get("lastAttemptedRevision") != chart_version
            or s.get("lastAttemptedConfigDigest") != config_digest
        )
        if changed or reset_requested:
            for counter in ("failures", "installFailures", "upgradeFailures"):
                s.pop(counter, None)
        if reset_requested:
            s["lastHandledResetAt"] = reset_at

    # --- the atomic release loop -------------------------------------------------------------

    async def _atomic(
        self, work: Work, mgr: Manager, info: hm.ChartInfo, config_digest: str
    ) -> None:
        hr = work.hr
        annotations = hr.metadata.annotations or {}
        force_at = annotations.get(FORCE_REQUEST_ANNOTATION)
        force = (
            bool(force_at)
            and force_at == annotations.get(RECONCILE_REQUEST_ANNOTATION)
            and (force_at != work.status.get("lastHandledForceAt"))
        )
        done: set[Kind] = set()
        desired = self._desired(work, info, config_digest)
        while True:
            await mgr.sync(self._known_version(work))
            state = determine_state(mgr.stored(), desired, self._observed(work))
            drifted: list[Any] = []
            if state.needs_drift_check and Kind.DRIFT not in done:
                drifted = await mgr.detect_drift(self._ignore_rules(work))
                state = with_drift(state, bool(drifted), summarize([c for c, _ in drifted]))
                if not drifted:
                    work.condition(
                        "Drifted",
                        "False",
                        "NoDriftDetected",
                        "No drift detected in the release's objects",
                    )
            ctx = self._context(work, force)
            step = next_step(state.state, ctx) if state.state is not ReleaseState.UNKNOWN else None
            if step is None:
                self._not_ready(
                    work, "StateError", f"could not determine release state: {state.reason}"
                )
                raise Retry(state.reason)
            log.info("%s: state %s (%s) -> %s", work.key, state.state, state.reason, step.action)
            if step.action is Action.NONE:
                if force:
                    work.status["lastHandledForceAt"] = force_at
                if "inventory" not in work.status:
                    await self._set_inventory(work, mgr, mgr.release)
                self._summarize(work)
                work.drop("Reconciling")
                work.status["observedGeneration"] = work.generation
                return
            if step.action is Action.STALL:
                active = ctx.active()
                count = active[1] if active else 0
                message = (
                    (
                        f"Failed to {work.status.get('lastAttemptedReleaseAction', 'release')} "
                        f"after {count} attempt(s)"
                    )
                    if step.stall and step.stall.value == "RetriesExceeded"
                    else step.reason
                )
                work.condition("Stalled", "True", str(step.stall), message)
                self._summarize(work)
                work.drop("Reconciling")
                work.status["observedGeneration"] = work.generation
                return
            if step.action is Action.WARN_DRIFT:
                work.condition("Drifted", "True", "DriftDetected", state.reason)
                work.events.append(("Warning", "DriftDetected", _drift_message(drifted)))
                self._summarize(work)
                work.drop("Reconciling")
                work.status["observedGeneration"] = work.generation
                return
            if step.action is Action.CORRECT_DRIFT:
                work.events.append(("Warning", "DriftDetected", _drift_message(drifted)))
                try:
                    await mgr.reconcile_release(drifted)
                except ApiException as exc:
                    work.condition("Drifted", "True", "DriftDetected", state.reason)
                    work.events.append(("Warning", "DriftCorrectionFailed", str(exc)))
                    raise Retry(str(exc)) from None
                work.condition(
                    "Drifted", "False", "NoDriftDetected", f"Corrected drift:\n{state.reason}"
                )
                work.events.append(("Normal", "DriftCorrected", _drift_message(drifted)))
                done.add(Kind.DRIFT)
                continue
            verdict = may_run(step.action, frozenset(done), ctx)
            if verdict is not Outcome.CONTINUE:
                self._finish(work, verdict, ctx)
                return
            if step.clear_history:
                work.status["history"] = []
            failed = await self._run(work, step.action, mgr, info)
            if not failed and KIND_OF.get(step.action) is Kind.RELEASE:
                self._observed_digests(work, desired)
            if force and step.action in (Action.INSTALL, Action.UPGRADE):
                work.status["lastHandledForceAt"] = force_at
                force = False
            kind = KIND_OF.get(step.action)
            if kind is not None:
                done.add(kind)
            outcome = after_step(step.action, failed, self._context(work, force))
            if outcome is not Outcome.CONTINUE:
                self._finish(work, outcome, ctx)
                return
            await self._write_status(work)

    def _finish(self, work: Work, outcome: Outcome, ctx: Context) -> None:
        self._summarize(work)
        if outcome is Outcome.DONE:
            work.drop("Reconciling")
            return
        if outcome is Outcome.STALL:
            active = ctx.active()
            count = active[1] if active else 0
            work.condition(
                "Stalled",
                "True",
                "RetriesExceeded",
                f"Failed to {work.status.get('lastAttemptedReleaseAction', 'release')} "
                f"after {count} attempt(s)",
            )
            work.drop("Reconciling")
            return
        ready = cond.get(work.status.get("conditions") or [], "Ready") or {}
        work.condition("Reconciling", "True", "ProgressingWithRetry", str(ready.get("message", "")))
        raise Retry(outcome.value)

    async def _run(self, work: Work, action: Action, mgr: Manager, info: hm.ChartInfo) -> bool:
        """Run one action; fold what it stored into the status. True when it failed."""
        hr = work.hr
        message = f"Running '{action.value}' action with timeout of {hr.spec.effective_timeout()}"
        work.condition("Reconciling", "True", "Progressing", message)
        work.drop("Stalled")
        if KIND_OF.get(action) is Kind.RELEASE:
            work.condition("Ready", "Unknown", "Progressing", message)
        await self._write_status(work)

        chart = f"{info.metadata.get('name', '')!s}@{info.metadata.get('version', '')!s}"
        name = f"{mgr.target.namespace}/{mgr.release_name()}"
        started = time.monotonic()
        if action is Action.INSTALL:
            work.status["lastAttemptedReleaseAction"] = "install"
            # What was tested or remediated belonged to the release being replaced.
            work.drop("TestSuccess")
            work.drop("Remediated")
            done = await mgr.install_release()
        elif action is Action.UPGRADE:
            work.status["lastAttemptedReleaseAction"] = "upgrade"
            done = await mgr.upgrade_release()
        elif action is Action.TEST:
            done = await mgr.test_release()
        elif action is Action.ROLLBACK:
            prev = hist.previous(work.status.get("history") or [], self._ignore_tests(work))
            done = await mgr.rollback_release(int(prev["version"]) if prev else 0)
        elif action is Action.UNINSTALL_REMEDIATION:
            done = await mgr.uninstall_release()
        elif action is Action.UNLOCK:
            await self._unlock(work, mgr)
            return False
        else:
            raise ValueError(f"unsupported action {action}")
        if action in (Action.INSTALL, Action.UPGRADE) and not done.failed:
            done = await self._check_health(work, action, mgr, done)
        if action in (Action.INSTALL, Action.UPGRADE):
            work.status["lastAttemptedReleaseActionDuration"] = f"{time.monotonic() - started:.3f}s"
        self._observe(work, done.observations, action)
        written = [o.release for o in done.observations if o.release and o.operation != "delete"]
        if written:
            await self._set_inventory(work, mgr, written[-1])
        elif action is Action.UNINSTALL_REMEDIATION and not done.failed:
            work.status.pop("inventory", None)
        if action is Action.TEST and isinstance(done.result, hm.TestResult):
            self._record_tests(work, done.result)
        self._conditions_after(work, action, done.error, name, chart)
        if done.error is not None:
            self._count_failure(work, action, bool(done.observations))
        return done.failed

    def _health_checks(self, work: Work, action: Action | None = None) -> list[health.Check]:
        """The healthCheckExprs that apply: only when the action waits, as in Flux."""
        hr = work.hr
        spec = hr.spec.install if action is Action.INSTALL else hr.spec.upgrade
        if action is not None and spec is not None and spec.disable_wait:
            return []
        return [
            health.Check(c.api_version, c.kind, c.current, c.in_progress, c.failed)
            for c in hr.spec.health_check_exprs or []
        ]

    async def _check_health(self, work: Work, action: Action, mgr: Manager, done: Done) -> Done:
        """After a successful install or upgrade, wait for the custom resources the
        healthCheckExprs cover; a failure fails the action, and the release is recorded failed
        in storage, as Helm records a failed wait."""
        checks = self._health_checks(work, action)
        written = [o.release for o in done.observations if o.release and o.operation != "delete"]
        if not checks or not written:
            return done
        mgr.release = written[-1]
        spec = work.hr.spec.install if action is Action.INSTALL else work.hr.spec.upgrade
        within = options.timeout(spec.timeout if spec else None, work.hr).total_seconds()
        why = await mgr.wait_healthy(checks, within)
        if why is None:
            return done
        message = f"health check failed: {why}"
        rel = await mgr.mark_failed(message)
        key = f"sh.helm.release.v1.{rel.name}.v{rel.version}"
        failed = hm.Observation(operation="update", key=key, digest=rel.digest, release=rel)
        return Done([*done.observations, failed], herr.HelmError(message))

    async def _set_inventory(self, work: Work, mgr: Manager, release: hm.Release | None) -> None:
        entries = await mgr.inventory(release)
        work.status["inventory"] = None if entries is None else {"entries": entries}

    def _record_tests(self, work: Work, result: hm.TestResult) -> None:
        history = work.status.get("history") or []
        if not history:
            return
        hooks = {
            t.name: {
                "phase": t.phase,
                **({"lastStarted": _ts(t.started_at)} if t.started_at else {}),
                **({"lastCompleted": _ts(t.completed_at)} if t.completed_at else {}),
            }
            for t in result.tests
        }
        history[0]["testHooks"] = hooks

    def _conditions_after(
        self, work: Work, action: Action, error: herr.HelmError | None, name: str, chart: str
    ) -> None:
        verb = {
            Action.INSTALL: "install",
            Action.UPGRADE: "upgrade",
            Action.TEST: "test",
            Action.ROLLBACK: "rollback",
            Action.UNINSTALL_REMEDIATION: "uninstall",
        }[action]
        title = verb.capitalize()
        if error is None:
            message = f"Helm {verb} succeeded for release {name} with chart {chart}"
            reason = f"{title}Succeeded"
            if action in (Action.INSTALL, Action.UPGRADE):
                work.condition("Released", "True", reason, message)
                work.drop("TestSuccess")
            elif action is Action.TEST:
                tests = (work.status.get("history") or [{}])[0].get("testHooks") or {}
                failed = [n for n, h in tests.items() if (h or {}).get("phase") == "Failed"]
                if failed:
                    work.condition(
                        "TestSuccess",
                        "False",
                        "TestFailed",
                        f"Helm test failed for release {name}: {', '.join(failed)}",
                    )
                    work.events.append(("Warning", "TestFailed", f"Helm test failed: {failed}"))
                    return
                work.condition("TestSuccess", "True", "TestSucceeded", message)
            else:
                work.condition("Remediated", "True", reason, message)
            work.events.append(("Normal", reason, message))
            return
        detail = error.message.strip()
        logs = "\n".join(error.logs[-5:])
        message = f"Helm {verb} failed for release {name} with chart {chart}: {detail}"
        if logs:
            message += f"\n\nLast Helm logs:\n\n{logs}"
        reason = f"{title}Failed"
        if action in (Action.INSTALL, Action.UPGRADE):
            work.condition("Released", "False", reason, message)
        elif action is Action.TEST:
            work.condition("TestSuccess", "False", "TestFailed", message)
        else:
            work.condition("Remediated", "False", reason, message)
        work.events.append(("Warning", reason, message))

    def _count_failure(self, work: Work, action: Action, stored: bool) -> None:
        s = work.status
        s["failures"] = int(s.get("failures") or 0) + 1
        # As Flux: install and upgrade failures count only when a release reached storage;
        # a failed test counts against the action that made the release.
        if not stored and action is not Action.TEST:
            return
        if action is Action.TEST and self._ignore_tests(work):
            return
        last = s.get("lastAttemptedReleaseAction")
        if action is Action.INSTALL or (action is Action.TEST and last == "install"):
            s["installFailures"] = int(s.get("installFailures") or 0) + 1
        elif action is Action.UPGRADE or (action is Action.TEST and last == "upgrade"):
            s["upgradeFailures"] = int(s.get("upgradeFailures") or 0) + 1

    def _observe(self, work: Work, observations: list[hm.Observation], action: Action) -> None:
        history = list(work.status.get("history") or [])
        label = {
            Action.INSTALL: "install",
            Action.UPGRADE: "upgrade",
            Action.ROLLBACK: "rollback",
            Action.UNINSTALL_REMEDIATION: "uninstall-remediation",
        }.get(action)
        for obs in observations:
            if obs.release is None or obs.operation == "delete":
                continue
            rel = obs.release.model_dump(by_alias=True, mode="json")
            snap = hist.snapshot(rel, label, None, digest(rel.get("config") or {}))
            history = hist.observe(history, snap)
        max_history = work.hr.spec.effective_max_history() or hist.DEFAULT_MAX_HISTORY
        work.status["history"] = history[: max(max_history, 2)]

    async def _unlock(self, work: Work, mgr: Manager) -> None:
        """A release left pending by a crash: mark it failed so it can be remediated."""
        left, rel = await mgr.unlock()
        target = mgr.target
        work.condition(
            "Released",
            "False",
            "PendingRelease",
            f"Unlocked Helm release {target.namespace}/{target.release_name} "
            f"left in '{left}' state",
        )
        work.events.append(("Normal", "PendingRelease", f"Unlocked release left in '{left}'"))
        # The snapshot of the pending version no longer matches storage: refresh it.
        rel_dump = rel.model_dump(by_alias=True, mode="json")
        snap = hist.snapshot(rel_dump, None, None, digest(rel_dump.get("config") or {}))
        work.status["history"] = hist.observe(work.status.get("history") or [], snap)

    # --- state inputs ------------------------------------------------------------------------

    def _known_version(self, work: Work) -> int | None:
        """The newest release version this object recorded, if it still names the same release."""
        history = work.status.get("history") or []
        return int(history[0]["version"]) if history else None

    def _desired(self, work: Work, info: hm.ChartInfo, config_digest: str) -> Desired:
        hr = work.hr
        test = hr.spec.test
        return Desired(
            chart_name=str(info.metadata.get("name", "")),
            chart_version=str(info.metadata.get("version", "")),
            config_digest=config_digest,
            generation=work.generation,
            post_renderers_digest=digest(_dump(hr.spec.post_renderers))
            if hr.spec.post_renderers
            else "",
            common_metadata_digest=digest(_dump(hr.spec.common_metadata))
            if hr.spec.common_metadata
            else "",
            test_enabled=bool(test and test.enable),
            ignore_test_failures=self._ignore_tests(work),
            has_active_remediation=work.status.get("lastAttemptedReleaseAction")
            in ("install", "upgrade"),
            drift_detection=self._drift_mode(work) in ("enabled", "warn"),
        )

    def _observed(self, work: Work) -> Observed:
        history = work.status.get("history") or []
        latest = None
        if history:
            h = history[0]
            hooks = h.get("testHooks")
            latest = SnapshotView(
                name=h["name"],
                version=int(h["version"]),
                digest=h.get("digest", ""),
                config_digest=h.get("configDigest", ""),
                api_version=h.get("apiVersion") or "",
                test_hooks=None
                if hooks is None
                else {k: (v or {}).get("phase") for k, v in hooks.items()},
            )
        return Observed(
            latest=latest,
            observed_generation=work.status.get("observedGeneration"),
            post_renderers_digest=work.status.get("observedPostRenderersDigest") or "",
            common_metadata_digest=work.status.get("observedCommonMetadataDigest") or "",
        )

    def _observed_digests(self, work: Work, desired: Desired) -> None:
        """Recorded after every successful release action, as Flux does, so a changed
        post-renderer triggers one upgrade, not one per reconcile."""
        work.status["observedPostRenderersDigest"] = desired.post_renderers_digest or None
        work.status["observedCommonMetadataDigest"] = desired.common_metadata_digest or None

    def _context(self, work: Work, force: bool) -> Context:
        hr = work.hr
        inst, upg = hr.spec.install, hr.spec.upgrade
        ir, ur = (inst.remediation if inst else None), (upg.remediation if upg else None)
        install = Policy(
            retries=ir.retries if ir and ir.retries is not None else 0,
            remediate_last_failure=bool(ir and ir.remediate_last_failure),
            strategy=inst.strategy.name
            if inst and inst.strategy
            else Strategy.REMEDIATE_ON_FAILURE,
            remediation=Remediation.UNINSTALL,
        )
        upgrade = Policy(
            retries=ur.retries if ur and ur.retries is not None else 0,
            remediate_last_failure=ur.effective_remediate_last_failure() if ur else False,
            strategy=upg.strategy.name if upg and upg.strategy else Strategy.REMEDIATE_ON_FAILURE,
            remediation=ur.effective_strategy() if ur else Remediation.ROLLBACK,
        )
        s = work.status
        prev = hist.previous(s.get("history") or [], self._ignore_tests(work))
        return Context(
            install=install,
            upgrade=upgrade,
            install_failures=int(s.get("installFailures") or 0),
            upgrade_failures=int(s.get("upgradeFailures") or 0),
            last_attempted=s.get("lastAttemptedReleaseAction"),
            force_requested=force,
            drift_correct=self._drift_mode(work) == "enabled",
            rollback_target=RollbackTarget.OK if prev else RollbackTarget.MISSING,
        )

    def _drift_mode(self, work: Work) -> str:
        dd = work.hr.spec.drift_detection
        return str(dd.effective_mode().value) if dd else "disabled"

    def _ignore_rules(self, work: Work) -> list[IgnoreRule]:
        dd = work.hr.spec.drift_detection
        rules = []
        for rule in (dd.ignore or []) if dd else []:
            target = rule.target.model_dump(exclude_none=True) if rule.target else None
            rules.append(
                IgnoreRule(
                    paths=list(rule.paths),
                    target=Selector(**target) if target is not None else None,
                )
            )
        return rules

    def _ignore_tests(self, work: Work) -> bool:
        hr = work.hr
        default = bool(hr.spec.test and hr.spec.test.ignore_failures)
        last = work.status.get("lastAttemptedReleaseAction")
        rem = (
            (hr.spec.install.remediation if hr.spec.install else None)
            if last == "install"
            else (hr.spec.upgrade.remediation if hr.spec.upgrade else None)
        )
        if rem is not None and rem.ignore_test_failures is not None:
            return rem.ignore_test_failures
        return default

    def _summarize(self, work: Work) -> None:
        hr = work.hr
        work.status["conditions"] = cond.summarize(
            work.status.get("conditions") or [],
            test_enabled=bool(hr.spec.test and hr.spec.test.enable),
            ignore_test_failures=self._ignore_tests(work),
            generation=work.generation,
            now=_now(),
        )

    def _not_ready(self, work: Work, reason: str, message: str, retry: bool = False) -> Result:
        work.condition("Ready", "False", reason, message)
        if retry:
            raise Retry(message)
        return Result(requeue_after=self.settings.requeue_dependency, jitter=False)

    async def _cluster(self, work: Work) -> Cluster:
        """The cluster the release lives on: this one, or the one spec.kubeConfig reaches; as
        spec.serviceAccountName (or the default) when one is set."""
        hr = work.hr
        ns = hr.metadata.namespace or "default"
        sa = hr.spec.service_account_name or self.settings.default_service_account
        account = hm.ServiceAccountRef(namespace=ns, name=sa) if sa else None
        kubeconfig = None
        if hr.spec.kube_config is not None:
            kubeconfig = await self._kubeconfig(work)
        return await self.managers.cluster(kubeconfig, account)

    async def _kubeconfig(self, work: Work) -> str:
        kc = work.hr.spec.kube_config
        assert kc is not None
        ns = work.hr.metadata.namespace or "default"
        if kc.secret_ref is None:
            raise KubeConfigError(
                "spec.kubeConfig.configMapRef (workload identity) is not supported; "
                "use spec.kubeConfig.secretRef"
            )
        name = kc.secret_ref.name
        try:
            secret = await rest.request(self.api, "GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
        except ApiException as exc:
            raise KubeConfigError(
                f"could not get KubeConfig secret '{ns}/{name}': {exc.reason}"
            ) from None
        data = secret.get("data") or {}
        keys = [kc.secret_ref.key] if kc.secret_ref.key else ["value", "value.yaml"]
        for key in keys:
            if key in data:
                return base64.b64decode(data[key]).decode()
        raise KubeConfigError(
            f"KubeConfig secret '{ns}/{name}' has no key {' or '.join(repr(k) for k in keys)}"
        )

    def _annotations(self, work: Work) -> dict[str, str]:
        out = {}
        if rev := work.status.get("lastAttemptedRevision"):
            out[REVISION_ANNOTATION] = str(rev)
        if token := work.status.get("lastAttemptedConfigDigest"):
            out[TOKEN_ANNOTATION] = str(token)
        return out

    # --- writes ------------------------------------------------------------------------------

    async def _write_status(self, work: Work) -> None:
        ns, name = work.hr.metadata.namespace or "", work.hr.metadata.name or ""
        status = {k: v for k, v in work.status.items() if v is not None}
        if status == (work.raw.get("status") or {}):
            return  # nothing changed: no write
        body = {"status": status}
        path = HELM_RELEASES.path(ns, name, "status")
        updated = await rest.request(
            self.api, "PATCH", path, body=_with_nulls(work.raw, body), content_type=rest.MERGE_PATCH
        )
        work.raw = updated
        self.releases.observe_write(updated)

    async def _patch_meta(self, work: Work, meta: dict[str, Any]) -> None:
        ns, name = work.hr.metadata.namespace or "", work.hr.metadata.name or ""
        work.raw = await rest.request(
            self.api,
            "PATCH",
            HELM_RELEASES.path(ns, name),
            body={"metadata": meta},
            content_type=rest.MERGE_PATCH,
        )
        self.releases.observe_write(work.raw)

    async def _finalize(self, work: Work) -> None:
        hr = work.hr
        if FINALIZER not in (hr.metadata.finalizers or []):
            return
        if not hr.spec.suspend and work.status.get("history"):
            target = options.Target(release_name(hr), target_namespace(hr), storage_namespace(hr))
            try:
                cluster: Cluster | None = await self._cluster(work)
            except KubeConfigError as exc:
                # As Flux: without the kubeconfig the release cannot be reached; let it go.
                log.warning("%s: not uninstalling: %s", work.key, exc)
                cluster = None
            if cluster is not None:
                done = await self.managers.new_manager(hr, target, cluster).uninstall_release()
                if done.error is not None:
                    message = str(done.error)
                    work.condition("Ready", "False", "UninstallFailed", message)
                    work.events.append(("Warning", "UninstallFailed", message))
                    await self._write_status(work)
                    raise Retry(message)
                work.events.append(
                    (
                        "Normal",
                        "UninstallSucceeded",
                        "Helm uninstall succeeded for release "
                        f"{target.namespace}/{target.release_name}",
                    )
                )
        if hr.spec.chart is not None and not hr.spec.suspend:
            path = HELM_CHARTS.path(chart_source_namespace(hr), helm_chart_name(hr))
            try:
                await rest.request(self.api, "DELETE", path)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        finalizers = [f for f in hr.metadata.finalizers or [] if f != FINALIZER]
        await self._patch_meta(work, {"finalizers": finalizers or None})


def _drift_message(drifted: list[Any]) -> str:
    lines = []
    for change, _ in drifted:
        lines.append(f"{change.object_id}: {change.type.value}")
        for op in mask_secret_patch(change.patch)[:10]:
            lines.append(f"  {op['op']} {op['path']}")
    return "Cluster state of release has drifted from the desired state:\n" + "\n".join(lines)


def _edges_of(obj: dict[str, Any]) -> tuple[str, list[str]]:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    deps = (obj.get("spec") or {}).get("dependsOn") or []
    return f"{ns}/{meta.get('name')}", [f"{d.get('namespace') or ns}/{d['name']}" for d in deps]


def _already_applied(current: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether the cached object already has every field `body` would apply."""
    if current is None:
        return False
    spec = current.get("spec") or {}
    if any(spec.get(k) != v for k, v in body["spec"].items()):
        return False
    meta = current.get("metadata") or {}
    for part in ("labels", "annotations"):
        have = meta.get(part) or {}
        if any(have.get(k) != v for k, v in (body["metadata"].get(part) or {}).items()):
            return False
    return True


def _with_nulls(raw: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that also clears status fields the new status no longer has."""
    old = raw.get("status") or {}
    status = dict(body["status"])
    for key in old:
        if key not in status:
            status[key] = None
    return {"status": status}


def _dump(model: Any) -> Any:
    if isinstance(model, list):
        return [_dump(m) for m in model]
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
