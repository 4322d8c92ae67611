"""Flux's own helm-controller and source-controller, built from the Go module proxy at the pins
in hack/tools/flux/versions (hack/lib/build-flux.sh) and run as processes against a cluster,
confined to one namespace as Flux runs with `--watch-all-namespaces=false`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from hack.testkit.paths import REPO_ROOT
from hack.testkit.ports import free_ports

BUILD_FLUX = REPO_ROOT / "hack" / "lib" / "build-flux.sh"
PINS = REPO_ROOT / "hack" / "tools" / "flux" / "versions"


def flux_bin_dir() -> Path:
    """The directory holding both binaries, built first when the cache has none."""
    out = subprocess.run(
        ["bash", str(BUILD_FLUX)], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


def pinned_versions() -> dict[str, str]:
    """controller name → version, as pinned."""
    pins = {}
    for line in PINS.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and not line.startswith("#"):
            pins[fields[0].rsplit("/", 1)[-1]] = fields[1]
    return pins


@dataclass(frozen=True)
class Flux:
    """The two running controllers and where their logs go."""

    processes: tuple[asyncio.subprocess.Process, ...]
    logs: tuple[Path, ...]

    async def stop(self, grace: float = 30.0) -> None:
        """SIGTERM each, and SIGKILL what has not exited after `grace` seconds."""
        for proc in self.processes:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    def tail(self, chars: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-chars:]}" for p in self.logs if p.exists())


@contextlib.asynccontextmanager
async def running_flux(
    kubeconfig: Path, namespace: str, work_dir: Path, *, bin_dir: Path | None = None
) -> AsyncIterator[Flux]:
    """source-controller and helm-controller watching only `namespace` (their runtime namespace),
    no leader election, artifacts under `work_dir`; stopped on exit."""
    bin_dir = bin_dir or flux_bin_dir()
    storage, *ports = free_ports(5)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "RUNTIME_NAMESPACE": namespace}
    common = ("--watch-all-namespaces=false", "--enable-leader-election=false", "--log-level=info")
    (work_dir / "flux-storage").mkdir(parents=True, exist_ok=True)
    commands = {
        "source-controller": (
            f"--storage-path={work_dir / 'flux-storage'}",
            f"--storage-addr=127.0.0.1:{storage}",
            f"--storage-adv-addr=127.0.0.1:{storage}",
            f"--metrics-addr=127.0.0.1:{ports[0]}",
            f"--health-addr=127.0.0.1:{ports[1]}",
        ),
        "helm-controller": (
            f"--metrics-addr=127.0.0.1:{ports[2]}",
            f"--health-addr=127.0.0.1:{ports[3]}",
            "--concurrent=4",
            "--requeue-dependency=5s",
        ),
    }
    procs: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    with contextlib.ExitStack() as files:
        for name, args in commands.items():
            log = work_dir / f"{name}.log"
            out = files.enter_context(log.open("w"))
            procs.append(
                await asyncio.create_subprocess_exec(
                    str(bin_dir / name), *common, *args, env=env, stdout=out, stderr=out
                )
            )
            logs.append(log)
        flux = Flux(tuple(procs), tuple(logs))
        try:
            yield flux
        finally:
            await flux.stop()
