"""Helmward's own digests of JSON values (kubeconfig keys, flag sets): sha256 of canonical JSON,
written 'sha256:<hex>'. The digests Flux records in a HelmRelease's status are the engine's
(`internal/helm/shim/digest.go`), computed as Flux computes them."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace, so equal values give equal bytes."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()
