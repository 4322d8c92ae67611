"""Deletion: uninstall the release (unless suspended), delete the generated HelmChart, and let
the object go. Without its kubeconfig the release cannot be reached, and Flux lets it go too."""

from __future__ import annotations

import logging

from api.meta import FINALIZER, ConditionStatus
from api.naming import chart_source_namespace, helm_chart_name
from controller.helmrelease import inputs
from controller.helmrelease.cluster import release_cluster
from controller.helmrelease.status import StatusWriter
from controller.helmrelease.work import Retry, Work
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import HELM_CHARTS
from internal.manager.clusters import KubeConfigError
from internal.manager.manager import ManagerFactory
from internal.release import conditions as cond

log = logging.getLogger(__name__)


async def finalize(
    work: Work,
    api: ApiClient,
    managers: ManagerFactory,
    writer: StatusWriter,
    default_account: str | None,
) -> None:
    hr = work.hr
    if FINALIZER not in (hr.metadata.finalizers or []):
        return
    if not hr.spec.suspend and work.status.history:
        await uninstall(work, api, managers, writer, default_account)
    if hr.spec.chart is not None and not hr.spec.suspend:
        path = HELM_CHARTS.path(chart_source_namespace(hr), helm_chart_name(hr))
        try:
            await rest.request(api, "DELETE", path)
        except ApiException as exc:
            if exc.status != 404:
                raise
    finalizers = [f for f in hr.metadata.finalizers or [] if f != FINALIZER]
    await writer.patch_metadata(work, {"finalizers": finalizers or None})


async def uninstall(
    work: Work,
    api: ApiClient,
    managers: ManagerFactory,
    writer: StatusWriter,
    default_account: str | None,
) -> None:
    hr = work.hr
    target = inputs.target(hr)
    try:
        cluster = await release_cluster(api, managers.clusters, hr, default_account)
    except KubeConfigError as exc:
        log.warning("%s: not uninstalling: %s", work.key, exc)
        return
    done = await managers.new_client(hr, target, cluster).uninstall_release()
    if done.error is not None:
        message = str(done.error)
        work.condition(cond.READY, ConditionStatus.FALSE, "UninstallFailed", message)
        work.event("Warning", "UninstallFailed", message)
        await writer.write_status(work)
        raise Retry(message)
    work.event(
        "Normal",
        "UninstallSucceeded",
        f"Helm uninstall succeeded for release {target.namespace}/{target.release_name}",
    )
