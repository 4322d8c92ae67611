"""Digests that tell whether a part of the desired state changed: sha256 of canonical JSON,
written 'sha256:<hex>'."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from api.helmrelease import CommonMetadata, PostRenderer


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace, so equal values give equal bytes."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def values_digest(values: Mapping[str, Any] | None) -> str:
    """Digest of Helm values. No values and empty values are the same thing."""
    return digest(dict(values or {}))


def post_renderers_digest(post_renderers: Sequence[PostRenderer] | None) -> str:
    """Digest of spec.postRenderers, or '' when the field is not set, as Flux records it."""
    if post_renderers is None:
        return ""
    return digest([renderer.to_wire(exclude_unset=False) for renderer in post_renderers])


def common_metadata_digest(common_metadata: CommonMetadata | None) -> str:
    """Digest of spec.commonMetadata, or '' when the field is not set, as Flux records it."""
    if common_metadata is None:
        return ""
    return digest(common_metadata.to_wire(exclude_unset=False))
