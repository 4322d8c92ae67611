"""A release whose name, target namespace or storage namespace changed, or whose chart has
another name (unless upgrade.chartNameChangeStrategy is InPlaceUpdate): the old release is
uninstalled before the new one is installed, and the history starts afresh, as in Flux."""

from __future__ import annotations

from api.helmrelease import ChartNameChangeStrategy
from controller.helmrelease.work import Retry, Work
from controller.runtime.controller import Result
from internal.manager.clusters import Cluster
from internal.manager.manager import ManagerFactory
from internal.manager.options import Target


def previous_target(work: Work, target: Target) -> Target | None:
    """Where the recorded release lives, when that is not `target`."""
    latest = work.status.latest()
    if latest is None:
        return None
    old = Target(
        latest.name, latest.namespace, work.status.storage_namespace or target.storage_namespace
    )
    return None if old == target else old


def reinstall_for_chart_name(work: Work, chart_name: str) -> bool:
    """The latest release was made from a chart of another name, and the strategy (Reinstall
    by default) says to uninstall it first."""
    latest = work.status.latest()
    if latest is None or latest.chart_name == chart_name:
        return False
    upgrade = work.hr.spec.upgrade
    strategy = (
        upgrade.effective_chart_name_change_strategy()
        if upgrade
        else ChartNameChangeStrategy.REINSTALL
    )
    return strategy is ChartNameChangeStrategy.REINSTALL


async def uninstall_if_moved(
    work: Work, managers: ManagerFactory, target: Target, cluster: Cluster, chart_name: str
) -> Result | None:
    old = previous_target(work, target)
    if old is None and reinstall_for_chart_name(work, chart_name):
        old = target
    if old is None:
        return None
    done = await managers.new_client(work.hr, old, cluster).uninstall_release()
    if done.error is not None:
        message = f"failed to uninstall the previous release: {done.error}"
        work.not_ready("UninstallFailed", message)
        raise Retry(message)
    work.status.history = []
    work.status.inventory = None
    work.status.failures = work.status.install_failures = work.status.upgrade_failures = None
    work.event(
        "Normal",
        "UninstallSucceeded",
        f"Uninstalled previous release {old.namespace}/{old.release_name}",
    )
    return Result(requeue_after=0, jitter=False)
