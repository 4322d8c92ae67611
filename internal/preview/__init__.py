"""Previews: what the next upgrade of a release would change in the cluster, before it runs.

The public surface, kept small and stable (`helmward diff` and the approval gate build on it):

- `Change` (frozen): `action` ("add" | "change" | "remove"), `api_version`, `kind`,
  `namespace` ("" when cluster-scoped), `name`, and `diff`, a unified diff of the object's YAML
  (the live object now against the live object after the upgrade, as a server-side-apply dry
  run answers it; Secret data masked as `***`). `ref` names it `Kind/namespace/name`;
  `as_dict()` is its data form.
- `Plan` (frozen): `changes`, a tuple sorted by (kind, namespace, name); `summary`, `+1 ~2 -0`
  (added, changed, removed); `digest`, `sha256:<hex>` of the canonical changes (stable, made of
  masked diffs and a never-shown digest of each changed Secret's data); `empty`; `as_dict()`
  (summary, digest, changes).
- `change_of(before, after) -> Change | None`: one object's change, masked.
- `async plan_upgrade(manager) -> Plan`: for a synced `internal.manager.Manager` (the one the
  reconciler builds: release, target, Cluster, chart and composed values), render the upgrade
  the controller would run next (an install when nothing is stored) with the request the
  Manager would send (`internal.manager.options`, post-renderers included), dry-run each object
  through the release's Cluster (impersonating its service account when it has one), and list
  the objects of the stored release the upgrade would delete. Raises `PreviewError`.
- `async plan_manifest(cluster, namespace, release, manifest, stored_manifest) -> Plan`: the
  same for a given manifest (a rollback's target, or none for an uninstall).

`plan.py` is pure (the Change and Plan types, masking, diffs, the deletion set); `upgrade.py`
holds the render and the dry runs.
"""

from internal.preview.plan import Change, Plan, change_of
from internal.preview.upgrade import PreviewError, plan_manifest, plan_upgrade

__all__ = ["Change", "Plan", "PreviewError", "change_of", "plan_manifest", "plan_upgrade"]
