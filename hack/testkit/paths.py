"""Where things are in the checkout."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO_ROOT / "hack" / "cluster.sh"
CRD_BASES = REPO_ROOT / "config" / "crd" / "bases"
