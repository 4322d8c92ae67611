"""make demo: local sources, the CRDs, the controller and the sample releases, watched live.

Run from the repository root with the project's venv, after `hack/cluster.sh up`. Serves the
demo charts as a Helm repository (127.0.0.1:18080) and as a git repository over smart HTTP
(127.0.0.1:18081), runs `helmward run`, applies config/samples/demo.yaml, and shows a table of
the releases until every one is Ready. Beside them, config/samples/demo-broken.yaml stages one
release broken on purpose in namespace demo-broken (its valuesFrom names a ConfigMap that does
not exist), for `helmward why` to explain; the demo waits until it is Ready=False for that
reason. Then it keeps serving until Ctrl-C, or exits at once with HELMWARD_DEMO_EXIT=1.

Its files (git repository, artifacts, controller log) are in $HELMWARD_DEMO_DIR, by default
$HELMWARD_CACHE/demo; with HELMWARD_CLUSTER_DIR and the port variables of hack/cluster.sh it
runs against a control plane of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from hack.testkit.chart_server import chart_repository
from hack.testkit.git_server import GitHTTPServer
from hack.testkit.kube import api_client, install_crds
from hack.testkit.launcher import Controller, running_controller
from hack.testkit.plane import cluster_env
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "hack" / "demo" / "charts"
CACHE = Path(
    os.environ.get("HELMWARD_DEMO_DIR")
    or Path(os.environ.get("HELMWARD_CACHE", Path.home() / ".cache" / "helmward")) / "demo"
)
NAMESPACE = "demo"
RELEASES = ("database", "backend", "frontend")
# The release broken on purpose, and the reason it is expected to be not Ready for.
BROKEN_NAMESPACE = "demo-broken"
BROKEN = ("payments", "ValuesError")
SAMPLES = ROOT / "config" / "samples"


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def prepare_git() -> Path:
    """A bare git repository `apps.git` holding the demo charts under charts/; its root."""
    shutil.rmtree(CACHE, ignore_errors=True)
    git_root = CACHE / "git"
    work = CACHE / "apps"
    shutil.copytree(CHARTS, work / "charts")
    sh("git", "init", "-q", "-b", "main", cwd=work)
    sh("git", "add", ".", cwd=work)
    sh(
        "git",
        "-c",
        "user.name=demo",
        "-c",
        "user.email=demo@example.com",
        "commit",
        "-q",
        "-m",
        "demo charts",
        cwd=work,
    )
    git_root.mkdir()
    sh("git", "clone", "-q", "--bare", str(work), str(git_root / "apps.git"))
    return git_root


async def namespace_settled(kubectl: str, kubeconfig: Path, namespace: str) -> None:
    """A demo namespace left Terminating by an earlier run finishes deleting once the
    controller (now running) has uninstalled its releases; wait for that."""
    for _ in range(120):
        proc = await asyncio.create_subprocess_exec(
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "ns",
            namespace,
            "-o",
            "jsonpath={.status.phase}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        if out.decode() != "Terminating":
            return
        await asyncio.sleep(1)


def row(obj: dict[str, object]) -> tuple[str, str, str, str, str]:
    meta = obj["metadata"]
    status = obj.get("status") or {}
    assert isinstance(meta, dict)
    assert isinstance(status, dict)
    ready: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c["type"] == "Ready"), {}
    )
    history = status.get("history") or [{}]
    revision = f"{history[0].get('chartName', '')}@{history[0].get('chartVersion', '')}"
    message = str(ready.get("message", "waiting for the controller")).splitlines()[0][:60]
    return (
        str(meta["name"]),
        str(ready.get("status", "-")),
        str(ready.get("reason", "-")),
        revision if history[0] else "-",
        message,
    )


async def watch(
    api: client.ApiClient,
    started: float,
    controller: Controller,
    within: float = 300,
) -> bool:
    """Until every demo release is Ready and the broken one is not Ready for its reason."""
    while True:
        if controller.returncode is not None:
            print(f"the controller exited with code {controller.returncode}")
            return False
        listing = await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE))
        rows = sorted(row(o) for o in listing.get("items", []))
        broken = await rest.get_optional(api, HELM_RELEASES.path(BROKEN_NAMESPACE, BROKEN[0]))
        print("\033[2J\033[H" if sys.stdout.isatty() else "", end="")
        print(
            f"Helmward demo: HelmReleases in namespace '{NAMESPACE}' "
            f"({time.monotonic() - started:.0f}s)\n"
        )
        print(f"{'NAME':<10} {'READY':<7} {'REASON':<22} {'REVISION':<18} MESSAGE")
        for r in rows:
            print(f"{r[0]:<10} {r[1]:<7} {r[2]:<22} {r[3]:<18} {r[4]}")
        print(f"\nand in namespace '{BROKEN_NAMESPACE}', broken on purpose:")
        staged = row(broken) if broken else (BROKEN[0], "-", "-", "-", "not applied yet")
        print(f"{staged[0]:<10} {staged[1]:<7} {staged[2]:<22} {staged[3]:<18} {staged[4]}")
        print(flush=True)
        if (
            len(rows) == len(RELEASES)
            and all(r[1] == "True" for r in rows)
            and staged[1:3] == ("False", BROKEN[1])
        ):
            return True
        if time.monotonic() - started > within:
            return False
        await asyncio.sleep(1)


async def main() -> int:
    kubeconfig, bin_dir = cluster_env()
    kubectl = str(bin_dir / "kubectl")
    git_root = prepare_git()
    log = CACHE / "controller.log"
    ok = False
    async with (
        chart_repository(
            bin_dir / "helm", sorted(CHARTS.iterdir()), CACHE / "charts", port=18080
        ) as charts,
        serving_git(git_root) as git,
        api_client(kubeconfig) as api,
    ):
        print(f"chart repository {charts.url}, git server {git.url('apps.git')}")
        await install_crds(api)
        try:
            async with running_controller(
                kubeconfig,
                CACHE / "artifacts",
                flags=("--requeue-dependency", "5"),
                log=log,
                storage_port=18090,
                metrics_port=18091,
                health_port=18092,
                grace=60,
            ) as controller:
                print(f"controller pid {controller.pid}, log {log}")
                ok = await show(api, controller, kubectl, kubeconfig)
        finally:
            if not ok and log.exists():
                print(log.read_text()[-3000:])
    return 0 if ok else 1


@contextlib.asynccontextmanager
async def serving_git(root: Path) -> AsyncIterator[GitHTTPServer]:
    git = GitHTTPServer(root, username="demo", password="demo-password")
    await git.start(18081)
    try:
        yield git
    finally:
        await git.stop()


async def show(
    api: client.ApiClient, controller: Controller, kubectl: str, kubeconfig: Path
) -> bool:
    """Apply the sample releases and watch them until Ready; then keep serving until a
    signal, unless HELMWARD_DEMO_EXIT=1. Whether they all became Ready."""
    # Start from scratch: releases of an earlier run are uninstalled by the controller.
    for namespace in (NAMESPACE, BROKEN_NAMESPACE):
        sh(
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "delete",
            "namespace",
            namespace,
            "--ignore-not-found",
            "--wait=false",
        )
    for namespace in (NAMESPACE, BROKEN_NAMESPACE):
        await namespace_settled(kubectl, kubeconfig, namespace)
    started = time.monotonic()
    for sample in ("demo.yaml", "demo-broken.yaml"):
        sh(
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "apply",
            "--server-side",
            "-f",
            str(SAMPLES / sample),
        )
    ok = await watch(api, started, controller)
    print(
        f"All releases are Ready, and {BROKEN_NAMESPACE}/{BROKEN[0]} is broken as staged."
        if ok
        else "Not every release became Ready (or the broken one is not as staged); see the log."
    )
    print(
        f"""
Explore:
  eval "$(hack/cluster.sh env)"
  .venv/bin/helmward get all -n {NAMESPACE}
  .venv/bin/helmward tree -n {NAMESPACE} backend
  .venv/bin/helmward get -A
  .venv/bin/helmward why -n {BROKEN_NAMESPACE} {BROKEN[0]}
  kubectl -n {BROKEN_NAMESPACE} create configmap payments-values \\
    --from-literal=values.yaml='replicas: 1'
  .venv/bin/helmward reconcile -n {BROKEN_NAMESPACE} {BROKEN[0]}
  helm list -A
  curl -s http://127.0.0.1:18091/metrics | grep gotk_

Stop: Ctrl-C stops the controller and the demo servers; make cluster-down stops the cluster.
""",
        flush=True,
    )
    if ok and os.environ.get("HELMWARD_DEMO_EXIT") != "1":
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    return ok


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
