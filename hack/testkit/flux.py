"""Flux's own controllers, built from the Go module proxy at the pins in hack/tools/flux/versions
(hack/lib/build-flux.sh) and run as processes against a cluster, confined to one namespace as
Flux runs with `--watch-all-namespaces=false`: helm-controller and source-controller
(`running_flux`), notification-controller (`running_notification_controller`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hack.testkit.kube import FIELD_MANAGER, install_crds
from hack.testkit.paths import REPO_ROOT
from hack.testkit.ports import free_ports
from hack.testkit.process import Server, running
from internal.kube import rest

if TYPE_CHECKING:
    from kubernetes_asyncio import client

BUILD_FLUX = REPO_ROOT / "hack" / "lib" / "build-flux.sh"
# The version notification-controller v1.6 stores Alerts and Providers at (Receivers: v1).
NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"
NOTIFICATION_KINDS = ("Alert", "Provider")
PINS = REPO_ROOT / "hack" / "tools" / "flux" / "versions"


def flux_bin_dir() -> Path:
    """The directory holding the binaries, and crd/<controller>/ the CRDs of each, built first
    when the cache has none."""
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
    kubeconfig: Path,
    namespace: str,
    work_dir: Path,
    *,
    bin_dir: Path | None = None,
    watch_all_namespaces: bool = False,
    concurrent: int = 4,
) -> AsyncIterator[Flux]:
    """source-controller and helm-controller watching only `namespace` (their runtime namespace),
    or every namespace with `watch_all_namespaces`; `concurrent` reconciles in parallel in each,
    no leader election, artifacts under `work_dir`; stopped on exit."""
    bin_dir = bin_dir or flux_bin_dir()
    storage, *ports = free_ports(5)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "RUNTIME_NAMESPACE": namespace}
    common = (
        f"--watch-all-namespaces={str(watch_all_namespaces).lower()}",
        "--enable-leader-election=false",
        "--log-level=info",
        f"--concurrent={concurrent}",
    )
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


@dataclass(frozen=True)
class NotificationController:
    """A running notification-controller and where it takes events."""

    server: Server
    events_url: str
    """Where the other controllers POST events (their --events-addr): its root, /."""
    metrics_url: str


async def install_notification_crds(
    kube: client.ApiClient, *, bin_dir: Path | None = None
) -> list[str]:
    """Server-side apply of the pinned notification-controller's CRDs (Alert, Provider,
    Receiver), waited on until Established. Their names."""
    crds = (bin_dir or flux_bin_dir()) / "crd" / "notification-controller"
    return await install_crds(kube, crds)


async def apply_notification_object(
    kube: client.ApiClient, namespace: str, kind: str, name: str, spec: dict[str, Any]
) -> None:
    """Server-side apply of an Alert or a Provider (NOTIFICATION_API)."""
    body = {
        "apiVersion": NOTIFICATION_API,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    await rest.request(
        kube,
        "PATCH",
        _notification_path(namespace, kind, name),
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": FIELD_MANAGER, "force": True},
    )


async def drop_notification_finalizers(kube: client.ApiClient, namespace: str) -> None:
    """notification-controller puts a finalizer on each Provider (and takes it off on deletion);
    with it stopped, drop them so that `namespace` can be deleted."""
    for kind in NOTIFICATION_KINDS:
        listing = await rest.request(kube, "GET", _notification_path(namespace, kind))
        for item in listing.get("items", []):
            if item["metadata"].get("finalizers"):
                await rest.request(
                    kube,
                    "PATCH",
                    _notification_path(namespace, kind, item["metadata"]["name"]),
                    body={"metadata": {"finalizers": None}},
                    content_type=rest.MERGE_PATCH,
                )


def _notification_path(namespace: str, kind: str, name: str | None = None) -> str:
    path = f"/apis/{NOTIFICATION_API}/namespaces/{namespace}/{kind.lower()}s"
    return path if name is None else f"{path}/{name}"


@contextlib.asynccontextmanager
async def running_notification_controller(
    kubeconfig: Path, namespace: str, work_dir: Path, *, bin_dir: Path | None = None
) -> AsyncIterator[NotificationController]:
    """notification-controller watching only `namespace` (its runtime namespace: the Alerts and
    Providers it reads are there), no leader election, every server on a free port of
    127.0.0.1; its log in `work_dir`. Ready (its /readyz answers and the event server listens)
    on entry, stopped on exit."""
    binary = (bin_dir or flux_bin_dir()) / "notification-controller"
    events, receiver, metrics, health = free_ports(4)
    argv = [
        str(binary),
        "--watch-all-namespaces=false",
        "--enable-leader-election=false",
        "--log-level=info",
        f"--events-addr=127.0.0.1:{events}",
        f"--receiverAddr=127.0.0.1:{receiver}",
        f"--metrics-addr=127.0.0.1:{metrics}",
        f"--health-addr=127.0.0.1:{health}",
    ]
    env = {"KUBECONFIG": str(kubeconfig), "RUNTIME_NAMESPACE": namespace}
    log = work_dir / "notification-controller.log"
    async with running("notification-controller", argv, log, env=env) as server:
        await server.wait_http(f"http://127.0.0.1:{health}/readyz", within=60)
        await _listening(server, events)
        yield NotificationController(
            server, f"http://127.0.0.1:{events}/", f"http://127.0.0.1:{metrics}/metrics"
        )


async def _listening(server: Server, port: int, within: float = 30.0) -> None:
    """Until 127.0.0.1:`port` takes connections: the event server starts after the manager."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if server.process.returncode is not None or loop.time() >= deadline:
                raise AssertionError(f"nothing listens on {port}\n{server.tail()}") from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            await writer.wait_closed()
            return
