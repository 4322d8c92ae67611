"""The stock helm and kubectl CLIs that hack/ builds, against the local control plane."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from hack.testkit.plane import ControlPlane


def helm_package(helm: Path, chart_dir: Path, dest: Path) -> Path:
    """`helm package` the chart directory into `dest`; the path of the .tgz."""
    out = subprocess.run(
        [str(helm), "package", str(chart_dir), "-d", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(out.strip().rsplit(" ", 1)[-1])


def helm_index(helm: Path, repo_dir: Path, url: str) -> None:
    """`helm repo index` the packages in `repo_dir` as served from `url`."""
    subprocess.run(
        [str(helm), "repo", "index", str(repo_dir), "--url", url], check=True, capture_output=True
    )


async def _run(binary: Path, args: tuple[str, ...], env: dict[str, str], stdin: str | None) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        raise AssertionError(f"{binary.name} {' '.join(args)} failed: {err.decode()}")
    return out.decode()


async def helm_cli(plane: ControlPlane, *args: str) -> str:
    """Run the stock helm CLI against the control plane; its stdout."""
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig), "HELM_CACHE_HOME": "/tmp/helm-cache"}
    return await _run(plane.helm, args, env, None)


async def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    """Run kubectl against the control plane; its stdout."""
    return await _run(
        plane.kubectl, args, {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}, stdin
    )
