"""What one reconcile of a watched object does next, from the newest stored release. Pure.

operator-sdk asks Helm for a dry-run upgrade and compares manifests; Helmward compares what the
release was made of (chart name, chart version and values) with what the object asks for, which
needs no render on a reconcile with nothing to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from internal.helm import models as hm


class Step(StrEnum):
    INSTALL = "install"
    UNLOCK = "unlock"
    """A release left pending by a crash: marked failed, then upgraded."""
    UPGRADE = "upgrade"
    RECONCILE = "reconcile"
    """In sync: put back what changed in the cluster."""


def _normal(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def next_step(
    stored: hm.Release | None, chart_name: str, chart_version: str, values: Mapping[str, Any]
) -> Step:
    if stored is None or stored.status == "uninstalled":
        return Step.INSTALL
    if stored.status.startswith("pending") or stored.status == "uninstalling":
        return Step.UNLOCK
    if stored.status != "deployed":
        return Step.UPGRADE
    same_chart = (stored.chart.name, stored.chart.version) == (chart_name, chart_version)
    if not same_chart or _normal(stored.config) != _normal(values):
        return Step.UPGRADE
    return Step.RECONCILE
