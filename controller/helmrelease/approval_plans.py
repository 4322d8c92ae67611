"""The plan of each action the approval gate can hold, as `internal.preview` makes it: what the
action would add, change and remove among the live objects, and its digest.

- install and upgrade: `plan_upgrade`, the next render dry-run against the live objects;
- rollback: the target revision's manifest dry-run against the live objects, and the objects
  of the current revision it drops;
- uninstall: the live objects of the current revision, each removed;
- drift correction: the drifted objects, as drift detection's dry runs found them.
"""

from __future__ import annotations

import json

from controller.helmrelease.actions import Request
from controller.helmrelease.actions.drift import Drifted
from internal.drift.diff import ChangeType, mask_secret_patch
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.preview import Change, Plan, PreviewError, change_of, plan_manifest, plan_upgrade
from internal.release.actions import Action

__all__ = ["PreviewError", "plan_action"]


async def plan_action(req: Request, action: Action, drifted: Drifted) -> Plan:
    """The plan of `action` for the request's release. Raises PreviewError."""
    mgr = req.mgr
    await mgr.load()
    if action in (Action.INSTALL, Action.UPGRADE):
        return await plan_upgrade(mgr)
    if action is Action.CORRECT_DRIFT:
        return drift_plan(drifted)
    current = mgr.release.manifest if mgr.release is not None else ""
    target = ""
    if action is Action.ROLLBACK:
        prev = req.work.status.previous(req.work.hr.ignore_test_failures())
        target = await stored_manifest(req, prev.version if prev else 0)
    elif action is not Action.UNINSTALL_REMEDIATION:
        raise PreviewError(f"no plan for the {action.value} action")
    ns, name = mgr.target.namespace, mgr.target.release_name
    return await plan_manifest(mgr.cluster, ns, name, target, current)


async def stored_manifest(req: Request, version: int) -> str:
    """The manifest of the release's revision `version` in Helm storage."""
    mgr = req.mgr
    request = hm.GetRequest(
        release_name=mgr.target.release_name, namespace=mgr.target.namespace, version=version
    )
    storage = hm.StorageSpec(namespace=mgr.target.storage_namespace)
    try:
        got = await mgr.engine.get(request, cluster=mgr.cluster.target, storage=storage)
    except herr.HelmError as exc:
        raise PreviewError(f"could not read revision {version}: {exc.message}") from None
    return got.result.release.manifest


def drift_plan(drifted: Drifted) -> Plan:
    """Drift correction recreates the objects deleted by hand and patches the others back; the
    patches' Secret values are masked."""
    changes = []
    for drift, obj in drifted:
        if drift.type is ChangeType.CREATE:
            added = change_of(None, obj)
            if added is not None:
                changes.append(added)
            continue
        meta = obj.get("metadata") or {}
        ops = mask_secret_patch(drift.patch)
        diff = "".join(json.dumps(op, sort_keys=True) + "\n" for op in ops)
        changes.append(
            Change(
                "change",
                str(obj.get("apiVersion", "")),
                drift.ref.kind,
                str(meta.get("namespace") or ""),
                drift.ref.name,
                diff,
            )
        )
    return Plan(tuple(changes))
