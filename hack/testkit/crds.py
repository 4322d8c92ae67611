"""Other projects' CRDs, from their modules at the pins in hack/tools/peers/crds, fetched with
`go mod download` (the module cache keeps them): the kinds config/ ships objects of."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from hack.testkit.paths import REPO_ROOT

PINS = REPO_ROOT / "hack" / "tools" / "peers" / "crds"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"


def pinned(module: str) -> str:
    for line in PINS.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == module:
            return fields[1]
    raise LookupError(f"{module} is not pinned in {PINS}")


def module_dir(module: str) -> Path:
    """The pinned module's source in the Go module cache, downloaded first if need be."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{pinned(module)}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT / "hack" / "tools",
    )
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise RuntimeError(f"go mod download {module}: {info.get('Error') or done.stderr}")
    return Path(info["Dir"])


def prometheus_operator_crds(into: Path, plurals: tuple[str, ...]) -> Path:
    """`into`, holding the CRDs of monitoring.coreos.com's `plurals` (e.g. podmonitors)."""
    source = module_dir(PROMETHEUS_OPERATOR) / "example" / "prometheus-operator-crd"
    into.mkdir(parents=True, exist_ok=True)
    for plural in plurals:
        shutil.copy(source / f"monitoring.coreos.com_{plural}.yaml", into)
    return into
