"""A release whose name, target namespace or storage namespace changed: the old release is
uninstalled before the new one is installed, and the history starts afresh."""

from __future__ import annotations

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


async def uninstall_if_moved(
    work: Work, managers: ManagerFactory, target: Target, cluster: Cluster
) -> Result | None:
    old = previous_target(work, target)
    if old is None:
        return None
    done = await managers.new_client(work.hr, old, cluster).uninstall_release()
    if done.error is not None:
        message = f"failed to uninstall the previous release: {done.error}"
        work.not_ready("UninstallFailed", message)
        raise Retry(message)
    work.status.history = []
    work.status.inventory = None
    work.event(
        "Normal",
        "UninstallSucceeded",
        f"Uninstalled previous release {old.namespace}/{old.release_name}",
    )
    return Result(requeue_after=0, jitter=False)
