"""Names and namespaces a HelmRelease implies when its spec leaves them out, as Flux derives
them."""

from __future__ import annotations

import hashlib

from api.helmrelease import MAX_RELEASE_NAME_LENGTH, HelmRelease

_HASH_LENGTH = 12

SHARD_LABEL = "sharding.fluxcd.io/key"
"""Flux's sharding label: which shard's controller (`--watch-label-selector`) owns an object."""


def shorten_release_name(name: str) -> str:
    """`name` if it fits Helm's 53 characters; otherwise its first 40 characters, a dash and
    the first 12 hex digits of its SHA-256."""
    if len(name) <= MAX_RELEASE_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{name[: MAX_RELEASE_NAME_LENGTH - _HASH_LENGTH - 1]}-{digest}"


def release_name(hr: HelmRelease) -> str:
    """The Helm release name: spec.releaseName, else '[targetNamespace-]name', shortened."""
    name = hr.spec.release_name
    if not name:
        own = _name(hr)
        target = hr.spec.target_namespace
        name = f"{target}-{own}" if target else own
    return shorten_release_name(name)


def target_namespace(hr: HelmRelease) -> str:
    """Where the release's objects go: spec.targetNamespace, else the HelmRelease's namespace."""
    return hr.spec.target_namespace or _namespace(hr)


def storage_namespace(hr: HelmRelease) -> str:
    """Where Helm stores the release: spec.storageNamespace, else the HelmRelease's namespace."""
    return hr.spec.storage_namespace or _namespace(hr)


def chart_source_namespace(hr: HelmRelease) -> str:
    """Namespace of the chart's source (chart.spec.sourceRef or chartRef), else the
    HelmRelease's namespace."""
    if hr.spec.chart is not None:
        ref_namespace = hr.spec.chart.spec.source_ref.namespace
    elif hr.spec.chart_ref is not None:
        ref_namespace = hr.spec.chart_ref.namespace
    else:
        ref_namespace = None
    return ref_namespace or _namespace(hr)


def helm_chart_name(hr: HelmRelease) -> str:
    """Name of the HelmChart made from spec.chart: '<namespace>-<name>'."""
    return f"{_namespace(hr)}-{_name(hr)}"


def helm_chart_labels(hr: HelmRelease) -> dict[str, str]:
    """Labels of the HelmChart made from spec.chart: the template's, and the HelmRelease's
    shard label unless the template sets that label itself. The chart then lands in the
    release's own shard; Flux leaves it to the template (an unlabelled chart goes to the
    unsharded controller there)."""
    meta = hr.spec.chart.metadata if hr.spec.chart is not None else None
    labels = dict((meta.labels if meta is not None else None) or {})
    shard = (hr.metadata.labels or {}).get(SHARD_LABEL)
    if shard is not None:
        labels.setdefault(SHARD_LABEL, shard)
    return labels


def _name(hr: HelmRelease) -> str:
    if not hr.metadata.name:
        raise ValueError("HelmRelease has no metadata.name")
    return hr.metadata.name


def _namespace(hr: HelmRelease) -> str:
    if not hr.metadata.namespace:
        raise ValueError(f"HelmRelease {hr.metadata.name} has no metadata.namespace")
    return hr.metadata.namespace
