"""Deletion: uninstall the release (unless suspended), delete the generated HelmChart, and let
the object go. Without its kubeconfig the release cannot be reached, and Flux lets it go too."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.meta import FINALIZER, ConditionStatus
from api.naming import chart_source_namespace, helm_chart_name
from controller.helmrelease import inputs
from controller.helmrelease.cluster import release_cluster
from controller.helmrelease.status import StatusWriter
from controller.helmrelease.work import Retry, Work
from internal.kube import rest
from internal.kube.client import ApiClient
from internal.kube.resources import HELM_CHARTS
from internal.manager.clusters import KubeConfigError
from internal.manager.manager import ManagerFactory
from internal.release import conditions as cond

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finalizer:
    api: ApiClient
    managers: ManagerFactory
    writer: StatusWriter
    default_account: str | None = None

    async def finalize(self, work: Work) -> None:
        hr = work.hr
        if FINALIZER not in (hr.metadata.finalizers or []):
            return
        if not hr.spec.suspend and work.status.history:
            await self.uninstall(work)
        if hr.spec.chart is not None and not hr.spec.suspend:
            path = HELM_CHARTS.path(chart_source_namespace(hr), helm_chart_name(hr))
            await rest.delete_optional(self.api, path)
        finalizers = [f for f in hr.metadata.finalizers or [] if f != FINALIZER]
        await self.writer.patch_metadata(work, {"finalizers": finalizers or None})

    async def uninstall(self, work: Work) -> None:
        hr = work.hr
        target = inputs.target(hr)
        try:
            cluster = await release_cluster(
                self.api, self.managers.clusters, hr, self.default_account
            )
        except KubeConfigError as exc:
            log.warning("not uninstalling: %s", exc)
            return
        done = await self.managers.new_client(hr, target, cluster).uninstall_release()
        if done.error is not None:
            message = str(done.error)
            work.condition(cond.READY, ConditionStatus.FALSE, "UninstallFailed", message)
            work.event("Warning", "UninstallFailed", message)
            await self.writer.write_status(work)
            raise Retry(message)
        work.event(
            "Normal",
            "UninstallSucceeded",
            f"Helm uninstall succeeded for release {target.namespace}/{target.release_name}",
        )
