"""A watched object as a release: its name, the options operator-sdk's Helm operator runs Helm
with, and the Manager that applies them.

The options are expressed as a HelmRelease that is never written anywhere, so the engine
requests are built by the same code as a HelmRelease's (`internal.manager.options`). What
operator-sdk does differently from Flux's defaults is set here: no wait for resources (hooks
only), client-side apply as Helm 3 does it, unlimited history, the upgrade-force, rollback-force
and uninstall-wait annotations, and the chart label on every object. Flux's origin labels are
left off (the objects are not a HelmRelease's); the owner is set instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.helmrelease import HelmRelease
from internal.helm import models as hm
from internal.manager import options
from internal.manager.manager import Done, Manager

CHART_LABEL = "helm.sdk.operatorframework.io/chart"
UPGRADE_FORCE = "helm.sdk.operatorframework.io/upgrade-force"
ROLLBACK_FORCE = "helm.sdk.operatorframework.io/rollback-force"
UNINSTALL_WAIT = "helm.sdk.operatorframework.io/uninstall-wait"


@dataclass(frozen=True)
class WatchedObject:
    """What of a watched custom resource makes its release."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str
    annotations: Mapping[str, str]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> WatchedObject:
        meta = raw.get("metadata") or {}
        return cls(
            api_version=str(raw.get("apiVersion", "")),
            kind=str(raw.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid", "")),
            annotations=dict(meta.get("annotations") or {}),
        )

    def flag(self, annotation: str, default: bool = False) -> bool:
        """An annotation read as operator-sdk reads its boolean ones."""
        value = self.annotations.get(annotation)
        if value is None:
            return default
        return value.strip().lower() in ("true", "1", "t", "yes", "y")


def options_of(obj: WatchedObject, chart_name: str) -> HelmRelease:
    """The release options of one watched object, as a HelmRelease model (never written)."""
    spec: dict[str, Any] = {
        "interval": "1m",
        # Required by the model, read by nothing here: the chart is the watch's.
        "chart": {
            "spec": {"chart": chart_name, "sourceRef": {"kind": "HelmRepository", "name": "watch"}}
        },
        "releaseName": obj.name,
        "targetNamespace": obj.namespace,
        "storageNamespace": obj.namespace,
        "maxHistory": 0,
        "install": {"disableWait": True, "serverSideApply": False},
        "upgrade": {
            "disableWait": True,
            "serverSideApply": "disabled",
            "force": obj.flag(UPGRADE_FORCE),
        },
        "rollback": {"disableWait": True, "force": obj.flag(ROLLBACK_FORCE, default=True)},
        "uninstall": {"disableWait": not obj.flag(UNINSTALL_WAIT)},
        "commonMetadata": {"labels": {CHART_LABEL: chart_name}},
    }
    return HelmRelease.model_validate(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": obj.name, "namespace": obj.namespace},
            "spec": spec,
        }
    )


def owner_of(obj: WatchedObject) -> hm.Owner:
    return hm.Owner(
        api_version=obj.api_version,
        kind=obj.kind,
        name=obj.name,
        namespace=obj.namespace,
        uid=obj.uid,
    )


def name_taken_by(stored: hm.Release | None, chart_name: str) -> str | None:
    """operator-sdk's collision rule: a release of the object's name made from another chart
    belongs to something else. The message when it does."""
    if stored is None:
        return None
    theirs = str(stored.chart.name or "")
    if theirs == chart_name:
        return None
    return (
        f"duplicate release name: found existing release with name {stored.name!r} "
        f"for chart {theirs!r}"
    )


class WatchManager(Manager):
    """A Manager whose installs and upgrades carry the watched object as the owner of what they
    apply, and no HelmRelease origin."""

    def __init__(self, *args: Any, owner: hm.Owner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def _own(self, request: Any) -> Any:
        return request.model_copy(update={"origin": None, "owner": self.owner})

    async def install_release(self) -> Done:
        request = options.install(self.hr, self.target, self.chart.path, self.chart.values)
        return await self._run(self.engine.install, self._own(request), self.chart.oci_digest)

    async def upgrade_release(self) -> Done:
        method = self.release.apply_method if self.release else None
        request = options.upgrade(self.hr, self.target, self.chart.path, self.chart.values, method)
        return await self._run(self.engine.upgrade, self._own(request), self.chart.oci_digest)
