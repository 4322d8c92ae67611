"""The local control plane that hack/cluster.sh runs: bring it up, find its kubeconfig and CLIs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from hack.testkit.paths import CLUSTER_SH
from hack.testkit.ports import free_ports


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


def _cluster_sh(
    *args: str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> str:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), *args],
        env=None if env is None else dict(env),
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    ).stdout


def cluster_env(env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """Parse `hack/cluster.sh env` into (kubeconfig, bin dir)."""
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in _cluster_sh("env", env=env).splitlines()
        if "=" in line
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


PORT_VARIABLES = (
    "HELMWARD_ETCD_PORT",
    "HELMWARD_ETCD_PEER_PORT",
    "HELMWARD_APISERVER_PORT",
    "HELMWARD_KCM_PORT",
    "HELMWARD_SCHEDULER_PORT",
    "HELMWARD_KWOK_PORT",
)


@contextlib.contextmanager
def second_control_plane(
    state_dir: Path, *, timeout: float = 180, env: Mapping[str, str] | None = None
) -> Iterator[Path]:
    """Another control plane, on free ports with its state in `state_dir`, stopped after;
    yields its kubeconfig. `env` adds to hack/cluster.sh's environment (HELMWARD_AUDIT_POLICY,
    say). The shared one is left alone."""
    env = {**os.environ, **(env or {}), "HELMWARD_CLUSTER_DIR": str(state_dir)}
    env.update(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))
    _cluster_sh("up", env=env, timeout=timeout)
    try:
        yield cluster_env(env)[0]
    finally:
        _cluster_sh("down", env=env, timeout=timeout)


@dataclass(frozen=True)
class OwnPlane:
    """A control plane of the caller's own (see own_control_plane): its kubeconfig, and its
    components stopped, started and paused by the pids hack/cluster.sh keeps."""

    kubeconfig: Path
    state_dir: Path
    env: Mapping[str, str]

    def pid(self, component: str) -> int:
        return int((self.state_dir / "pids" / f"{component}.pid").read_text().strip())

    def stop(self, component: str) -> None:
        """SIGTERM the component and wait for it to exit; hack/cluster.sh up brings it back."""
        pid = self.pid(component)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def start_missing(self, timeout: float = 180) -> None:
        """Start again whatever is not running (etcd and its data are kept when it runs)."""
        _cluster_sh("up", env=self.env, timeout=timeout)

    def pause(self, component: str) -> None:
        os.kill(self.pid(component), signal.SIGSTOP)

    def resume(self, component: str) -> None:
        os.kill(self.pid(component), signal.SIGCONT)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@contextlib.contextmanager
def own_control_plane(state_dir: Path, *, timeout: float = 180) -> Iterator[OwnPlane]:
    """As second_control_plane, but yields an OwnPlane, for faults injected into the plane."""
    env = {**os.environ, "HELMWARD_CLUSTER_DIR": str(state_dir)}
    env.update(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))
    _cluster_sh("up", env=env, timeout=timeout)
    try:
        yield OwnPlane(cluster_env(env)[0], state_dir, env)
    finally:
        _cluster_sh("down", env=env, timeout=timeout)
