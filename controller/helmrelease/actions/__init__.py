"""The action reconcilers of the atomic release loop, one file each, found by action.

Each takes the request of one action, runs it through the release Manager, reports on its
condition and events, counts its failure, and answers whether it failed. Drift has no Helm
action and is handled by `drift` from the loop directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from controller.helmrelease.actions import install, rollback, test, uninstall, unlock, upgrade
from controller.helmrelease.actions.common import Request
from internal.release.actions import Action

ActionReconciler = Callable[[Request], Awaitable[bool]]

RECONCILERS: dict[Action, ActionReconciler] = {
    Action.INSTALL: install.reconcile,
    Action.UPGRADE: upgrade.reconcile,
    Action.TEST: test.reconcile,
    Action.ROLLBACK: rollback.reconcile,
    Action.UNINSTALL_REMEDIATION: uninstall.reconcile,
    Action.UNLOCK: unlock.reconcile,
}

__all__ = ["RECONCILERS", "ActionReconciler", "Request"]
