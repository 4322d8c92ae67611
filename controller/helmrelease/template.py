"""The HelmChart a HelmRelease's `spec.chart` template asks for, applied server side only when
the cached object lacks a field of it (an in-sync release costs no write for its chart); and
the one made before, deleted once the spec no longer asks for it."""

from __future__ import annotations

import logging
from typing import Any

from api.helmrelease import HelmRelease
from api.naming import SHARD_LABEL, chart_source_namespace, helm_chart_labels, helm_chart_name
from controller.helmrelease.work import Work
from controller.runtime.informer import Informer
from internal.kube import rest
from internal.kube.client import ApiClient
from internal.kube.resources import HELM_CHARTS

log = logging.getLogger(__name__)


def chart_key(hr: HelmRelease) -> str:
    return f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}"


def desired_chart(hr: HelmRelease) -> dict[str, Any]:
    """The HelmChart object for the template."""
    assert hr.spec.chart is not None
    tmpl = hr.spec.chart
    spec = tmpl.spec.model_dump(by_alias=True, exclude_none=True)
    spec["interval"] = hr.spec.effective_chart_interval()
    spec["sourceRef"] = {"kind": tmpl.spec.source_ref.kind, "name": tmpl.spec.source_ref.name}
    spec.setdefault("version", "*")
    meta: dict[str, Any] = {"name": helm_chart_name(hr), "namespace": chart_source_namespace(hr)}
    labels = helm_chart_labels(hr)
    if labels:
        meta["labels"] = labels
    if tmpl.metadata is not None and tmpl.metadata.annotations:
        meta["annotations"] = tmpl.metadata.annotations
    return {
        "apiVersion": HELM_CHARTS.api_version,
        "kind": "HelmChart",
        "metadata": meta,
        "spec": spec,
    }


def already_applied(current: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether the cached object already has every field `body` would apply."""
    if current is None:
        return False
    spec = current.get("spec") or {}
    if any(spec.get(k) != v for k, v in body["spec"].items()):
        return False
    meta = current.get("metadata") or {}
    for part in ("labels", "annotations"):
        have = meta.get(part) or {}
        if any(have.get(k) != v for k, v in (body["metadata"].get(part) or {}).items()):
            return False
    # A release moved out of its shard: the apply drops the shard label it gave the chart.
    return SHARD_LABEL in (body["metadata"].get("labels") or {}) or SHARD_LABEL not in (
        meta.get("labels") or {}
    )


async def apply_chart_template(
    api: ApiClient, charts: Informer, hr: HelmRelease, field_manager: str
) -> str:
    """Apply the template's HelmChart; returns its '<namespace>/<name>'."""
    body = desired_chart(hr)
    key = chart_key(hr)
    if not already_applied(charts.get(key), body):
        meta = body["metadata"]
        await rest.request(
            api,
            "PATCH",
            HELM_CHARTS.path(meta["namespace"], meta["name"]),
            body=body,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": field_manager, "force": True},
        )
    return key


async def delete_stale_chart(api: ApiClient, work: Work) -> None:
    """Delete the HelmChart `status.helmChart` names when the spec no longer makes that one:
    the sourceRef's namespace moved it, or spec.chartRef replaced spec.chart. As Flux does."""
    old = work.status.helm_chart
    wanted = chart_key(work.hr) if work.hr.spec.chart is not None else None
    if not old or old == wanted:
        return
    namespace, _, name = old.partition("/")
    await rest.delete_optional(api, HELM_CHARTS.path(namespace, name))
    log.info("deleted HelmChart %s", old)
    work.status.helm_chart = None
