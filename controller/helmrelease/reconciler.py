"""The HelmRelease reconciler: Flux's pipeline in front of the atomic release loop.

The pipeline: finalizer, suspend, the HelmChart template, dependsOn, the chart artifact, the
values, the target cluster, a moved release, the failure-counter resets. Then `atomic` runs
the actions. Every step works on the typed object and its status (`work.Work`); the status is
written once at the end, and between actions.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import api
from api.duration import parse_duration
from api.helmrelease import HelmRelease
from api.meta import FINALIZER
from controller.events import EventRecorder
from controller.helmrelease import inputs
from controller.helmrelease.access import enforce_access
from controller.helmrelease.actions import Request
from controller.helmrelease.artifacts import ArtifactCache
from controller.helmrelease.atomic import run_atomic
from controller.helmrelease.chart import ChartArtifact, Charts, ChartUnavailable, revision
from controller.helmrelease.cluster import release_cluster
from controller.helmrelease.dependencies import check_dependencies
from controller.helmrelease.finalizer import Finalizer
from controller.helmrelease.invalid import REASON as INVALID
from controller.helmrelease.invalid import InvalidReporter, clear_stall
from controller.helmrelease.moved import uninstall_if_moved
from controller.helmrelease.references import ReferenceIndex
from controller.helmrelease.refs import References, RefsError
from controller.helmrelease.status import StatusWriter, event_annotations
from controller.helmrelease.template import apply_chart_template, delete_stale_chart
from controller.helmrelease.values import compose_values, values_error
from controller.helmrelease.work import Retry, Settings, Work
from controller.metrics import Recorder
from controller.runtime.controller import Result
from controller.runtime.informer import Informer
from internal.dag.graph import Graph
from internal.drift.live import DEFAULT_FIELD_MANAGER
from internal.helm.engine import Engine
from internal.kube.client import ApiClient, ApiException
from internal.kube.discovery import Discovery
from internal.kube.resources import HELM_RELEASES
from internal.manager.clusters import Cluster, Clusters, KubeConfigError
from internal.manager.manager import Chart, ManagerFactory
from internal.manager.records import Records
from internal.release import health
from internal.values.compose import ValuesError
from internal.values.redact import REDACTOR

log = logging.getLogger(__name__)

KIND = "HelmRelease"
METRIC_CONDITIONS = ("Ready", "Reconciling", "Stalled")
"""The condition types fluxcd/pkg records, each Unknown when absent: 9 series per release."""

__all__ = ["HelmReleaseReconciler", "Retry", "Settings"]


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
        storage: Informer | None = None,
    ) -> None:
        """`storage`, Helm's storage Secrets (metadata): what confirms an in-sync release."""
        self.api = api_client
        self.releases = releases
        self.chart_informer = charts
        self.events = events
        self.metrics = metrics
        self.settings = settings
        sources = {"HelmChart": charts}
        if oci_repositories is not None:
            sources["OCIRepository"] = oci_repositories
        artifacts = ArtifactCache(settings.artifact_dir, observe=metrics.record_fetch)
        self.charts = Charts(engine, artifacts, sources)
        local = Cluster(
            settings.cluster,
            api_client,
            Discovery(api_client),
            engine.version().field_manager or DEFAULT_FIELD_MANAGER,
        )
        records = None
        if storage is not None:
            records = Records(storage.namespace, storage.synced.is_set)
            storage.add_handler(records.on_event)
        self.managers = ManagerFactory(engine, Clusters(local, settings.kubeconfig), records)
        self.writer = StatusWriter(api_client, releases)
        self.refs = References(api_client, settings.refs)
        self.invalid = InvalidReporter(api_client, releases, events, metrics)
        self.finalizer = Finalizer(
            api_client, self.managers, self.writer, settings.default_service_account
        )
        self.index = ReferenceIndex()
        releases.add_handler(self.index.on_event)

    def dependency_graph(self) -> Graph:
        return self.index.graph()

    async def close(self) -> None:
        await self.refs.close()
        await self.managers.clusters.close()

    async def reconcile(self, key: str) -> Result:
        raw = self.releases.get(key)
        if raw is None:
            ns, _, name = key.partition("/")
            self.metrics.forget(KIND, name, ns)
            REDACTOR.forget(key)
            return Result()
        start = time.monotonic()
        raw = copy.deepcopy(raw)
        try:
            hr = api.parse(raw)
        except api.ParseError as exc:
            await self.invalid.report(raw, exc)
            return Result()
        assert isinstance(hr, HelmRelease)
        work = Work.of(raw, hr)
        clear_stall(work, INVALID)
        try:
            return await self._reconcile(work)
        except ApiException as exc:
            if self._gone(work, exc):
                log.debug("HelmRelease %s was deleted while it was reconciled", key)
                work.events.clear()
                return Result()
            raise
        finally:
            self._record_metrics(work, time.monotonic() - start)
            annotations = event_annotations(work.status)
            for event in work.events:
                await self.events.emit(
                    work.raw, event.type, event.reason, event.message, annotations
                )

    @staticmethod
    def _gone(work: Work, exc: ApiException) -> bool:
        """Whether a 404 is about the object itself: deleted while its reconcile ran, or while
        it waited for a retry and the informer had not yet seen the deletion. The API server's
        Status names the resource (read from the answer: a GET would need a right the
        controller does not otherwise use)."""
        if exc.status != 404:
            return False
        try:
            details = json.loads(exc.body or "{}").get("details") or {}
        except (ValueError, AttributeError):
            return False
        return (details.get("group"), details.get("kind"), details.get("name")) == (
            HELM_RELEASES.group,
            HELM_RELEASES.plural,
            work.name,
        )

    def _record_metrics(self, work: Work, seconds: float) -> None:
        ns, name = work.namespace, work.name
        self.metrics.record_duration(KIND, name, ns, seconds)
        conditions = {c.type: c.status.value for c in work.status.conditions or []}
        for type_ in METRIC_CONDITIONS:
            self.metrics.record_condition(KIND, name, ns, type_, conditions.get(type_, "Unknown"))
        self.metrics.record_suspend(KIND, name, ns, bool(work.hr.spec.suspend))

    async def _reconcile(self, work: Work) -> Result:
        hr = work.hr
        if hr.metadata.deletion_timestamp is not None:
            await self.finalizer.finalize(work)
            return Result()
        if FINALIZER not in (hr.metadata.finalizers or []):
            finalizers = [*(hr.metadata.finalizers or []), FINALIZER]
            await self.writer.patch_metadata(work, {"finalizers": finalizers})
        if hr.spec.suspend:
            log.info("suspended")
            return Result()
        requested = hr.reconcile_request()
        try:
            result = await self._pipeline(work)
        except Retry as retry:
            if requested:
                work.status.last_handled_reconcile_at = requested
            await self.writer.write_status(work)
            if retry.requeue_after is None:
                raise
            return Result(requeue_after=retry.requeue_after, failed=True)
        if requested:
            work.status.last_handled_reconcile_at = requested
        await self.writer.write_status(work)
        if result is not None:
            return result
        return Result(requeue_after=parse_duration(hr.spec.interval).total_seconds())

    async def _resolved(self, work: Work, values: Any, release_api: ApiClient) -> Any:
        """The values with their store references resolved, as the release's identity."""
        try:
            return await self.refs.resolve(work.hr, values, release_api)
        except RefsError as exc:
            raise values_error(work, str(exc)) from None

    async def _chart_template(self, work: Work) -> Result | None:
        """Flux's HelmChart template step: the stale HelmChart deleted, the source's namespace
        checked against --no-cross-namespace-refs, then the HelmChart applied."""
        await delete_stale_chart(self.api, work)
        denied = enforce_access(work, self.settings.no_cross_namespace_refs)
        if denied is not None or work.hr.spec.chart is None:
            return denied
        field_manager = self.managers.clusters.local.field_manager
        work.status.helm_chart = await apply_chart_template(
            self.api, self.chart_informer, work.hr, field_manager
        )
        return None

    async def _pipeline(self, work: Work) -> Result | None:
        hr = work.hr
        wait = Result(requeue_after=self.settings.requeue_dependency, jitter=False)
        stopped = await self._chart_template(work)
        if stopped is not None:
            return stopped
        blocked = check_dependencies(
            work, self.index.graph(), self.releases.get, self.settings.requeue_dependency
        )
        if blocked is not None:
            return blocked
        try:
            artifact = self.charts.artifact(hr)
            path, info = await self.charts.load(artifact)
        except ChartUnavailable as exc:
            if exc.stalled:
                work.stalled(exc.reason, str(exc))
                return Result()
            work.not_ready(exc.reason, str(exc))
            if exc.retry:
                raise Retry(str(exc)) from None
            return wait
        try:
            values = await compose_values(self.api, hr)
        except ValuesError as exc:
            raise values_error(work, str(exc)) from None
        try:
            health.validate(inputs.health_checks(hr))
        except health.InvalidHealthCheck as exc:
            work.stalled("InvalidHealthCheck", str(exc))
            return wait
        target = inputs.target(hr)
        try:
            cluster = await release_cluster(
                self.api, self.managers.clusters, hr, self.settings.default_service_account
            )
        except KubeConfigError as exc:
            if exc.stalled:  # Flux's terminal error: no retry until the object changes
                work.stalled(exc.reason, str(exc))
                work.status.observed_generation = work.generation
                return Result()
            work.not_ready(exc.reason, str(exc))
            raise Retry(str(exc)) from None
        values = await self._resolved(work, values, cluster.api)
        chart_name = str(info.metadata.get("name", ""))
        moved = await uninstall_if_moved(work, self.managers, target, cluster, chart_name)
        if moved is not None:
            return moved
        digests = await self.managers.digests(hr, values)
        record_attempt(work, revision(info, artifact), digests.values, artifact)
        work.status.storage_namespace = target.storage_namespace
        chart = Chart(path, info, values, artifact.oci_digest or "")
        mgr = self.managers.new_manager(hr, target, cluster, chart)
        request = Request(work, mgr, self.writer, self.metrics)
        await run_atomic(request, inputs.desired(hr, info, digests))
        return None


def record_attempt(work: Work, revision: str, config_digest: str, artifact: ChartArtifact) -> None:
    """What this reconcile attempts; a changed attempt (or a reset request) starts the failure
    counters afresh, as Flux does."""
    status, hr = work.status, work.hr
    reset_at = hr.reset_request()
    changed = (
        status.last_attempted_generation,
        status.last_attempted_revision,
        status.last_attempted_config_digest,
    ) != (work.generation, revision, config_digest)
    if changed or reset_at is not None:
        status.failures = status.install_failures = status.upgrade_failures = None
    if reset_at is not None:
        status.last_handled_reset_at = reset_at
    status.last_attempted_generation = work.generation
    status.last_attempted_revision = revision
    status.last_attempted_config_digest = config_digest
    if artifact.oci_digest:
        status.last_attempted_revision_digest = artifact.oci_digest
