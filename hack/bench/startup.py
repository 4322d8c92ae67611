"""Start-up CPU of `helmward run` with K in-sync HelmReleases (issue 19: <= 1 s before the
first reconcile), split into its phases.

Installs K HelmReleases of a small chart once, in a namespace of its own on the shared plane
(hack/cluster.sh's), with a first controller; then starts the controller `--starts` times on the
same storage, each until its first reconcile log line, and prints for each start the CPU
(utime+stime from /proc) at that line and its split (hack/bench/startup_trace.py notes the
process's CPU at the phases): interpreter, imports (modules and command line), the Go engine's
load, informer sync (the rest of the set-up, and the LISTs the HelmRelease controller waits
for), first reconcile (from there to its log line); then the median of each. A later run finds
the releases installed (same namespace, storage, chart and artifact ports) and only restarts.

    PYTHONPATH=. .venv/bin/python hack/bench/startup.py --releases 50 --starts 3 [--tree DIR]

`--tree` runs another checkout's controller (a baseline) on the same releases. Not part of
`make test`; `--delete` removes the namespace (its releases uninstalled) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hack.bench.fleet import sh
from hack.bench.steady import apply_releases, cpu_seconds, read_log, wait_ready
from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import api_client, create_helm_repository, install_crds
from hack.testkit.plane import cluster_env
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES

NAMESPACE = "startup-probe"
STATE = Path("/tmp/helmward-startup-probe")
TRACE = Path(__file__).with_name("startup_trace.py")
PHASES = ("interpreter", "imports", "engine load", "informer sync", "first reconcile", "total")


def compile_bytecode(tree: Path) -> None:
    """As the image's `pip install` does (see steady.compile_bytecode)."""
    dirs = [str(tree / d) for d in ("api", "controller", "internal")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True)


def controller_argv(kubeconfig: Path, ports: tuple[int, int, int]) -> list[str]:
    storage, metrics, health = ports
    return [
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--watch-namespace",
        NAMESPACE,
        "--storage-path",
        str(STATE / "data"),
        "--storage-addr",
        f"127.0.0.1:{storage}",
        "--storage-adv-addr",
        f"127.0.0.1:{storage}",
        "--metrics-addr",
        f"127.0.0.1:{metrics}",
        "--health-addr",
        f"127.0.0.1:{health}",
    ]


@contextlib.asynccontextmanager
async def started(
    tree: Path, argv: list[str], log: Path, marks: Path, profile: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if profile:
        env["HELMWARD_PROBE_PROFILE"] = str(profile)
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(TRACE),
            str(marks),
            *argv,
            cwd=tree,
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def first_reconcile(proc: asyncio.subprocess.Process, log: Path, within: float) -> float:
    """The CPU the process has spent when its log shows its first reconcile."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if "\tcontroller.helmrelease." in read_log(log):
            return cpu_seconds(proc.pid)
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.01)
    raise RuntimeError(f"no reconcile logged; see {log}")


def split(marks: Path, total: float) -> dict[str, float]:
    at = dict(line.split() for line in marks.read_text().splitlines())
    t = {k: float(v) for k, v in at.items()}
    return {
        "interpreter": t["interpreter"],
        "imports": t["imports"] - t["interpreter"],
        "engine load": t["engine_loaded"] - t["engine"],
        "informer sync": t["synced"] - t["imports"] - (t["engine_loaded"] - t["engine"]),
        "first reconcile": total - t["synced"],
        "total": total,
    }


async def install(api: Any, argv: list[str], tree: Path, count: int, chart_url: str) -> None:
    """The namespace, its HelmRepository and `count` HelmReleases, Ready, unless there."""
    namespaces = await rest.request(api, "GET", "/api/v1/namespaces")
    if NAMESPACE not in {o["metadata"]["name"] for o in namespaces["items"]}:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        await rest.request(api, "POST", "/api/v1/namespaces", body=body)
        await create_helm_repository(api, NAMESPACE, chart_url, interval="10m")
    page = await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE))
    have = {o["metadata"]["name"] for o in page["items"]}
    missing = [n for n in (f"app-{i:04d}" for i in range(count)) if n not in have]
    if not missing and len(have) == count:
        return
    if len(have) > count:
        raise SystemExit(f"{NAMESPACE} has {len(have)} releases: --delete it for {count}")
    async with started(tree, argv, STATE / "install.log", STATE / "install.marks") as proc:
        start = time.monotonic()
        await apply_releases(api, missing, 600, NAMESPACE)
        if not await wait_ready(api, count, 900, NAMESPACE):
            raise SystemExit(f"not Ready; see {STATE / 'install.log'}")
        print(f"{count} HelmReleases Ready in {time.monotonic() - start:.1f}s (pid {proc.pid})")
        await asyncio.sleep(3)


async def run(args: argparse.Namespace, tree: Path) -> int:
    kubeconfig, bin_dir = cluster_env()
    ports = (args.port + 1, args.port + 2, args.port + 3)
    argv = controller_argv(kubeconfig, ports)
    chart = write_message_chart(STATE / "src", "small", "1.0.0")
    rows: list[dict[str, float]] = []
    async with (
        chart_repository(bin_dir / "helm", [chart], STATE / "repo", port=args.port) as charts,
        api_client(kubeconfig) as api,
    ):
        await install_crds(api)
        await install(api, argv, tree, args.releases, charts.url)
        for n in range(args.starts):
            log, marks = STATE / f"start-{n}.log", STATE / f"start-{n}.marks"
            profile = STATE / f"start-{n}.prof" if args.profile else None
            async with started(tree, argv, log, marks, profile) as proc:
                total = await first_reconcile(proc, log, 120)
                await asyncio.sleep(0.5)  # the marks file is line-buffered; all are written
            rows.append(split(marks, total))
            print(f"start {n + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()))
        print(
            f"median of {len(rows)} (K={args.releases}, {tree}): "
            + ", ".join(f"{k} {statistics.median(r[k] for r in rows):.3f}" for k in PHASES)
        )
        if args.delete:
            # The objects first, with a controller to finalize them: its leader Lease lives in
            # the namespace, which takes no new Lease once it is being deleted.
            kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig)]
            async with started(tree, argv, STATE / "delete.log", STATE / "delete.marks"):
                for kind in ("helmreleases", "helmcharts", "helmrepositories"):
                    sh(*kubectl, "delete", kind, "--all", "-n", NAMESPACE, "--timeout=600s")
            sh(*kubectl, "delete", "namespace", NAMESPACE, "--timeout=600s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=50)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument(
        "--port", type=int, default=28610, help="the chart server's; the controller's are +1..+3"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each start until its first reconcile (cProfile, into STATE/start-N.prof; "
        "its figures are then not the plain start's)",
    )
    parser.add_argument("--delete", action="store_true", help="delete the namespace at the end")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    compile_bytecode(tree)
    STATE.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(args, tree))


if __name__ == "__main__":
    sys.exit(main())
