"""hack/cluster.sh explains bad input: a port in use, a corrupt cache, no Go."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hack.testkit.paths import CLUSTER_SH
from hack.testkit.plane import ControlPlane

pytestmark = pytest.mark.cluster


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_in_use_is_named_with_its_fix(
    control_plane: ControlPlane, busy_port: int, tmp_path: Path
) -> None:
    result = _run(
        {"HELMWARD_CLUSTER_DIR": str(tmp_path / "cluster"), "HELMWARD_ETCD_PORT": str(busy_port)},
        "up",
    )
    assert result.returncode != 0
    assert f"port {busy_port}" in result.stderr
    assert "needed by etcd" in result.stderr
    assert "HELMWARD_ETCD_PORT" in result.stderr


def test_status_of_a_stopped_cluster_fails(tmp_path: Path) -> None:
    result = _run({"HELMWARD_CLUSTER_DIR": str(tmp_path / "cluster")}, "status")
    assert result.returncode == 1
    assert "kube-apiserver" in result.stdout
    assert "stopped" in result.stdout


def _fake_cache(control_plane: ControlPlane, tmp_path: Path) -> Path:
    """A cache whose bin dir links to the real binaries, under a temporary HELMWARD_CACHE."""
    cache = tmp_path / "cache"
    bin_dir = cache / "bin" / control_plane.bin_dir.name
    bin_dir.mkdir(parents=True)
    for entry in control_plane.bin_dir.iterdir():
        (bin_dir / entry.name).symlink_to(entry)
    return cache


def test_corrupt_cache_without_go_says_both(control_plane: ControlPlane, tmp_path: Path) -> None:
    cache = _fake_cache(control_plane, tmp_path)
    kubectl = cache / "bin" / control_plane.bin_dir.name / "kubectl"
    kubectl.unlink()
    kubectl.write_bytes(b"\x7fELF truncated")
    kubectl.chmod(0o755)
    no_go_path = ":".join(
        p for p in os.environ["PATH"].split(":") if p and not (Path(p) / "go").exists()
    )
    result = _run(
        {"HELMWARD_CACHE": str(cache), "PATH": no_go_path, "HELMWARD_CLUSTER_DIR": str(tmp_path)},
        "up",
    )
    assert result.returncode != 0
    assert "cache is corrupt" in result.stderr
    assert "go not found on PATH" in result.stderr
    assert "Install Go" in result.stderr


def test_warm_cache_needs_no_go(control_plane: ControlPlane, tmp_path: Path) -> None:
    cache = _fake_cache(control_plane, tmp_path)
    env = {"HELMWARD_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    assert shutil.which("go", path=env["PATH"]) is None
    result = _run(env, "build")
    assert result.returncode == 0, result.stderr
