"""Writing what a reconcile learned: the status subresource and the object's metadata, each
only when it changed, and each write handed to the informer at once (so a dependent waiting on
this release's Ready is woken without waiting for the watch)."""

from __future__ import annotations

from typing import Any

from api.helmrelease import HelmReleaseStatus
from controller.helmrelease.work import Work
from controller.runtime.informer import Informer
from internal.kube import rest
from internal.kube.client import ApiClient
from internal.kube.resources import HELM_RELEASES
from internal.values.redact import REDACTOR

TOKEN_ANNOTATION = "helm.toolkit.fluxcd.io/token"
REVISION_ANNOTATION = "helm.toolkit.fluxcd.io/revision"


def wire(status: HelmReleaseStatus | dict[str, Any] | None) -> dict[str, Any]:
    """A status in its wire form, normalised through the model so equal states compare equal
    whatever precision or key order the stored form had."""
    if status is None:
        return {}
    if isinstance(status, dict):
        status = HelmReleaseStatus.model_validate(status)
    return status.to_wire(exclude_unset=False)


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch of the status that also clears the fields the new one no longer has."""
    return {"status": {**dict.fromkeys(old), **new}}


def event_annotations(status: HelmReleaseStatus) -> dict[str, str]:
    """Flux's event metadata: the revision and the values digest of the last attempt."""
    out = {}
    if status.last_attempted_revision:
        out[REVISION_ANNOTATION] = status.last_attempted_revision
    if status.last_attempted_config_digest:
        out[TOKEN_ANNOTATION] = status.last_attempted_config_digest
    return out


def scrubbed(status: dict[str, Any]) -> dict[str, Any]:
    """The status with every condition message passed through the redactor."""
    for condition in status.get("conditions") or []:
        if condition.get("message"):
            condition["message"] = REDACTOR.scrub(condition["message"])
    return status


class StatusWriter:
    def __init__(self, api: ApiClient, releases: Informer) -> None:
        self.api = api
        self.releases = releases

    async def write_status(self, work: Work) -> None:
        """PATCH the status subresource; nothing when it is what the API server has."""
        old = work.raw.get("status") or {}
        new = scrubbed(wire(work.status))
        if new == old or new == wire(old):
            return
        path = HELM_RELEASES.path(work.namespace, work.name, "status")
        body = merge_patch(old, new)
        work.raw = await rest.request(
            self.api, "PATCH", path, body=body, content_type=rest.MERGE_PATCH
        )
        self.releases.observe_write(work.raw)

    async def patch_metadata(self, work: Work, meta: dict[str, Any]) -> None:
        work.raw = await rest.request(
            self.api,
            "PATCH",
            HELM_RELEASES.path(work.namespace, work.name),
            body={"metadata": meta},
            content_type=rest.MERGE_PATCH,
        )
        self.releases.observe_write(work.raw)
