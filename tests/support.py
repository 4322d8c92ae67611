"""Helpers shared by the test suites: the local control plane and polling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SH = REPO_ROOT / "hack" / "cluster.sh"

T = TypeVar("T")


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path
    bin_dir: Path
    started_here: bool

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm(self) -> Path:
        return self.bin_dir / "helm"


def cluster_env() -> tuple[Path, Path]:
    """Parse `hack/cluster.sh env` into (kubeconfig, bin dir)."""
    out = subprocess.run(
        ["bash", str(CLUSTER_SH), "env"], check=True, capture_output=True, text=True
    ).stdout
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
    )
    bin_dir = values["PATH"].split(":", 1)[0]
    return Path(values["KUBECONFIG"]), Path(bin_dir)


def cluster_is_up() -> bool:
    return subprocess.run(["bash", str(CLUSTER_SH), "status"], capture_output=True).returncode == 0


def ensure_control_plane() -> ControlPlane:
    started = False
    if not cluster_is_up():
        subprocess.run(["bash", str(CLUSTER_SH), "up"], check=True)
        started = True
    kubeconfig, bin_dir = cluster_env()
    return ControlPlane(kubeconfig=kubeconfig, bin_dir=bin_dir, started_here=started)


def stop_control_plane() -> None:
    subprocess.run(["bash", str(CLUSTER_SH), "down"], check=True)


def keep_cluster() -> bool:
    return os.environ.get("HELMWARD_KEEP_CLUSTER", "") not in ("", "0", "false")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something other than None or False."""
    deadline = time.monotonic() + within
    last: T | None = None
    while True:
        last = await probe()
        if last is not None and last is not False:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)
