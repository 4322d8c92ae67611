"""make demo: local sources, the CRDs, the controller and the sample releases, watched live.

Run from the repository root with the project's venv, after `hack/cluster.sh up`. Serves the
demo charts as a Helm repository (127.0.0.1:18080) and as a git repository over smart HTTP
(127.0.0.1:18081), runs `helmward run`, applies config/samples/demo.yaml, and shows a table of
the releases until every one is Ready. Then it keeps serving until Ctrl-C, or exits at once
with HELMWARD_DEMO_EXIT=1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes_asyncio import client, config

from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.sources.servers import ChartServer, GitHTTPServer, helm_index, helm_package

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("HELMWARD_CACHE", Path.home() / ".cache" / "helmward")) / "demo"
NAMESPACE = "demo"
RELEASES = ("database", "backend", "frontend")


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def prepare(helm: str) -> tuple[Path, Path]:
    shutil.rmtree(CACHE, ignore_errors=True)
    repo, git_root = CACHE / "charts", CACHE / "git"
    repo.mkdir(parents=True)
    charts = ROOT / "hack" / "demo" / "charts"
    for chart in sorted(charts.iterdir()):
        helm_package(Path(helm), chart, repo)
    work = CACHE / "apps"
    shutil.copytree(charts, work / "charts")
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
    return repo, git_root


async def namespace_settled(kubectl: str, kubeconfig: str) -> None:
    """A demo namespace left Terminating by an earlier run finishes deleting once the
    controller (now running) has uninstalled its releases; wait for that."""
    for _ in range(120):
        proc = await asyncio.create_subprocess_exec(
            kubectl,
            "--kubeconfig",
            kubeconfig,
            "get",
            "ns",
            NAMESPACE,
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
    ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})
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
    controller: asyncio.subprocess.Process,
    within: float = 300,
) -> bool:
    while True:
        if controller.returncode is not None:
            print(f"the controller exited with code {controller.returncode}")
            return False
        listing = await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE))
        rows = sorted(row(o) for o in listing.get("items", []))
        print("\033[2J\033[H" if sys.stdout.isatty() else "", end="")
        print(
            f"Helmward demo: HelmReleases in namespace '{NAMESPACE}' "
            f"({time.monotonic() - started:.0f}s)\n"
        )
        print(f"{'NAME':<10} {'READY':<7} {'REASON':<22} {'REVISION':<18} MESSAGE")
        for r in rows:
            print(f"{r[0]:<10} {r[1]:<7} {r[2]:<22} {r[3]:<18} {r[4]}")
        print(flush=True)
        if len(rows) == len(RELEASES) and all(r[1] == "True" for r in rows):
            return True
        if time.monotonic() - started > within:
            return False
        await asyncio.sleep(1)


async def main() -> int:
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in sh("bash", str(ROOT / "hack" / "cluster.sh"), "env").splitlines()
    )
    kubeconfig = env["KUBECONFIG"]
    bin_dir = env["PATH"].split(":", 1)[0]
    kubectl, helm = f"{bin_dir}/kubectl", f"{bin_dir}/helm"
    repo, git_root = prepare(helm)

    charts = ChartServer(repo)
    await charts.start(18080)
    helm_index(Path(helm), repo, charts.url)
    git = GitHTTPServer(git_root, username="demo", password="demo-password")
    await git.start(18081)
    print(f"chart repository {charts.url}, git server {git.url('apps.git')}")

    sh(
        kubectl,
        "--kubeconfig",
        kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        str(ROOT / "config" / "crd" / "bases"),
    )
    for crd in sh(kubectl, "--kubeconfig", kubeconfig, "get", "crd", "-o", "name").split():
        if "fluxcd.io" in crd:
            sh(kubectl, "--kubeconfig", kubeconfig, "wait", "--for=condition=Established", crd)

    log = (CACHE / "controller.log").open("w")
    controller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "run",
        "--kubeconfig",
        kubeconfig,
        "--storage-path",
        str(CACHE / "artifacts"),
        "--storage-addr",
        "127.0.0.1:18090",
        "--storage-adv-addr",
        "127.0.0.1:18090",
        "--metrics-addr",
        "127.0.0.1:18091",
        "--health-addr",
        "127.0.0.1:18092",
        "--requeue-dependency",
        "5",
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    print(f"controller pid {controller.pid}, log {CACHE / 'controller.log'}")
    ok = False
    try:
        started = time.monotonic()
        # Start from scratch: releases of an earlier run are uninstalled by the controller.
        sh(
            kubectl,
            "--kubeconfig",
            kubeconfig,
            "delete",
            "namespace",
            NAMESPACE,
            "--ignore-not-found",
            "--wait=false",
        )
        await namespace_settled(kubectl, kubeconfig)
        started = time.monotonic()
        sh(
            kubectl,
            "--kubeconfig",
            kubeconfig,
            "apply",
            "--server-side",
            "-f",
            str(ROOT / "config" / "samples" / "demo.yaml"),
        )
        configuration = client.Configuration()
        await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        async with client.ApiClient(configuration) as api:
            ok = await watch(api, started, controller)
        print("All releases are Ready." if ok else "Not every release became Ready; see the log.")
        print(
            f"""
Explore:
  eval "$(hack/cluster.sh env)"
  kubectl get hr -A
  kubectl get helmcharts,helmrepositories,gitrepositories -n {NAMESPACE}
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
    finally:
        if controller.returncode is None:
            controller.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(controller.wait(), 60)
            except TimeoutError:
                controller.kill()
                await controller.wait()
        await charts.stop()
        await git.stop()
        log.close()
        if not ok:
            print((CACHE / "controller.log").read_text()[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
