"""The Helmward controller for tests and scripts: `helmward run` as a process
(`running_controller`), or the source controllers in this process (`running_source_controllers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hack.testkit.paths import REPO_ROOT
from hack.testkit.ports import free_ports

if TYPE_CHECKING:
    from kubernetes_asyncio import client

    from controller.sources.context import Context
    from internal.artifacts.server import ArtifactServer
    from internal.artifacts.storage import Storage


@dataclass(frozen=True)
class Controller:
    """A running `helmward run` and the addresses it serves on 127.0.0.1."""

    process: asyncio.subprocess.Process
    storage_port: int
    metrics_port: int
    health_port: int
    log: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def storage_addr(self) -> str:
        return f"127.0.0.1:{self.storage_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def health_url(self) -> str:
        """The health server's root; /readyz and /healthz hang off it."""
        return f"http://127.0.0.1:{self.health_port}"

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace: float = 30.0) -> None:
        """SIGTERM, and SIGKILL if it has not exited after `grace` seconds."""
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def running_controller(
    kubeconfig: Path | str,
    storage_path: Path,
    *,
    namespace: str | None = None,
    flags: Sequence[str] = (),
    log: Path | None = None,
    storage_port: int = 0,
    metrics_port: int = 0,
    health_port: int = 0,
    grace: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Controller]:
    """`helmward run` (this interpreter's `controller.cli`) against `kubeconfig`, watching
    `namespace` (all when None), with its artifacts in `storage_path` and its output in `log`
    (inherited when None); `env` adds to this process's environment (RUNTIME_NAMESPACE, say).
    A port of 0 is a free one. Stopped on exit, see Controller.stop."""
    free = iter(free_ports(3))
    storage = storage_port or next(free)
    metrics = metrics_port or next(free)
    health = health_port or next(free)
    argv = [
        "run",
        "--kubeconfig",
        str(kubeconfig),
        *(["--watch-namespace", namespace] if namespace else []),
        "--storage-path",
        str(storage_path),
        "--storage-addr",
        f"127.0.0.1:{storage}",
        "--storage-adv-addr",
        f"127.0.0.1:{storage}",
        "--metrics-addr",
        f"127.0.0.1:{metrics}",
        "--health-addr",
        f"127.0.0.1:{health}",
        *flags,
    ]
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("w")) if log is not None else None
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "controller.cli",
            *argv,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=out,
            env=None if env is None else {**os.environ, **env},
        )
        controller = Controller(proc, storage, metrics, health, log)
        try:
            yield controller
        finally:
            await controller.stop(grace)


@dataclass(frozen=True)
class SourceControllers:
    """The source controllers running in this process, and what they serve artifacts from."""

    storage: Storage
    ctx: Context
    server: ArtifactServer


@contextlib.asynccontextmanager
async def running_source_controllers(
    kube: client.ApiClient, namespace: str, work_dir: Path, *, workers: int = 4
) -> AsyncIterator[SourceControllers]:
    """The source controllers of `helmward run` on an in-process Manager watching `namespace`,
    with artifact storage and its HTTP server under `work_dir`; stopped on exit."""
    # Imported here, so that scripts which only launch `helmward run` do not load the
    # controller (and the Helm engine) into their own process.
    from controller.app import source_controllers
    from controller.runtime.manager import Manager, Options
    from controller.sources.context import Context
    from internal.artifacts.server import ArtifactServer
    from internal.artifacts.storage import Storage

    root = work_dir / "storage"
    server = ArtifactServer(root, "127.0.0.1", 0)
    root.mkdir(exist_ok=True)  # a second run on the same storage is a restart
    await server.start()
    storage = Storage(root, f"127.0.0.1:{server.port}")
    ctx = Context(kube=kube, storage=storage, work_dir=str(work_dir))
    manager = Manager(
        kube,
        Options(health_addr=None, metrics_addr=None, watch_namespace=namespace, resync_period=None),
    )
    source_controllers(manager, ctx, workers=workers)
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    try:
        yield SourceControllers(storage, ctx, server)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.stop()
