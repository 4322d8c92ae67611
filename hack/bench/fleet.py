"""Fleet benchmark: N HelmReleases of a small chart against the local control plane.

Prints the time until all are Ready, the controller's peak RSS, the API requests per in-sync
release during one idle interval (from the API server's own metrics), and the p50 latency from a
dependency turning Ready to its dependent's install starting (from the controller's log).

    PYTHONPATH=. .venv/bin/python hack/bench/fleet.py --releases 100
Needs `hack/cluster.sh up`. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from hack.bench.measure import (
    api_requests,
    helmward_log_latencies,
    peak_rss_mib,
    release_traffic,
    writes,
)
from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import (
    api_client,
    create_helm_repository,
    helm_release_body,
    install_crds,
)
from hack.testkit.launcher import Controller, running_controller
from hack.testkit.plane import cluster_env
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES

NAMESPACE = "fleet-bench"


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


async def sample_heap(port: int, into: list[float], pid: int, anon: list[float]) -> None:
    """The controller's private (anonymous) RSS every second and its
    helmward_engine_heap_bytes every fifth, in MiB. A scrape renders every object's series, so
    scraping each second would add CPU that grows with the fleet and with its time to Ready."""
    async with aiohttp.ClientSession() as http:
        for tick in itertools.count():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():  # noqa: ASYNC240
                if line.startswith("RssAnon:"):
                    anon.append(int(line.split()[1]) / 1024)
            if tick % 5 == 0:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        for line in (await resp.text()).splitlines():
                            if line.startswith("helmward_engine_heap_bytes "):
                                into.append(float(line.split()[1]) / 2**20)
            await asyncio.sleep(1)


def wait_gone(kubectl: str, kubeconfig: str, ns: str) -> None:
    """A previous run's namespace may still be terminating (its releases being uninstalled)."""
    namespace = f"namespace/{ns}"
    wait = [kubectl, "--kubeconfig", kubeconfig, "wait", "--for=delete", namespace]
    subprocess.run([*wait, "--timeout=600s"], capture_output=True)


async def measure(
    api: client.ApiClient,
    args: argparse.Namespace,
    spaces: list[str],
    controller: Controller,
    kubectl: str,
    kubeconfig: str,
) -> dict[str, list[str]] | None:
    """Apply the releases, wait for them Ready and print the numbers; the dependencies of
    each release, or None when they did not all become Ready."""
    names = [f"app-{i:04d}" for i in range(args.releases)]
    home = {n: spaces[(i // 2) % len(spaces)] for i, n in enumerate(names)}
    # Pairs: every odd release depends on the even one before it.
    deps = {n: ([names[i - 1]] if i % 2 else []) for i, n in enumerate(names)}
    start = time.monotonic()
    sem = asyncio.Semaphore(20)

    async def apply(name: str) -> None:
        async with sem:
            await rest.request(
                api,
                "POST",
                HELM_RELEASES.path(home[name]),
                body=helm_release_body(
                    name, home[name], interval=f"{args.interval}s", depends_on=deps[name]
                ),
            )

    heaps: list[float] = []
    anon: list[float] = []
    heap = asyncio.create_task(sample_heap(controller.metrics_port, heaps, controller.pid, anon))
    await asyncio.gather(*(apply(n) for n in names))
    while True:
        listing: dict[str, list[dict[str, Any]]] = {"items": []}
        for ns in spaces:
            page = await rest.request(api, "GET", HELM_RELEASES.path(ns))
            listing["items"] += page["items"]
        ready = sum(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (o.get("status") or {}).get("conditions") or []
            )
            for o in listing["items"]
        )
        if ready == args.releases:
            break
        if time.monotonic() - start > 1800:
            print(f"timed out with {ready}/{args.releases} Ready")
            return None
        await asyncio.sleep(0.5)
    all_ready = time.monotonic() - start
    print(
        f"{args.releases} HelmReleases in {len(spaces)} namespace(s) Ready in "
        f"{all_ready:.1f}s "
        f"(--concurrent {args.concurrent}, --kube-api-qps {args.kube_api_qps:g}, "
        f"--kube-api-burst {args.kube_api_burst})"
    )

    await asyncio.sleep(5)
    revisions_and_warnings(kubectl, kubeconfig, spaces, args.releases)
    before = api_requests(kubectl, kubeconfig)
    await asyncio.sleep(args.interval * 1.1)
    after = api_requests(kubectl, kubeconfig)
    delta = after - before
    mine = release_traffic(delta)
    written = writes(mine)
    lists = sum(v for (verb, res), v in mine.items() if verb == "LIST" and res == "secrets")
    print(
        f"idle interval ({args.interval}s): {sum(mine.values())} requests on the "
        f"release kinds, {written / args.releases:.2f} writes per in-sync release, "
        f"{lists} LISTs of Helm storage"
    )
    for (verb, res), v in sorted(mine.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {verb:<7} {res:<18} {v}")
    heap.cancel()
    print(
        f"controller peak RSS {peak_rss_mib(controller.pid):.0f} MiB; private (anonymous) "
        f"peak {max(anon, default=0):.0f} MiB; the Helm engine's Go heap peak "
        f"{max(heaps, default=0):.0f} MiB"
    )
    return deps


def revisions_and_warnings(kubectl: str, kubeconfig: str, spaces: list[str], releases: int) -> None:
    """Helm's own count of releases and revisions (its storage Secrets), and the Warning events
    of the HelmReleases: a clean install is one revision and no Warning."""
    records = warnings = 0
    names: set[tuple[str, str]] = set()
    for ns in spaces:
        secrets = sh(
            kubectl,
            "--kubeconfig",
            kubeconfig,
            "get",
            "secrets",
            "-n",
            ns,
            "-o",
            "json",
            "-l",
            "owner=helm",
        )
        for item in json.loads(secrets)["items"]:
            records += 1
            names.add((ns, item["metadata"]["labels"]["name"]))
        selector = "type=Warning,involvedObject.kind=HelmRelease"
        events = sh(
            kubectl,
            "--kubeconfig",
            kubeconfig,
            "get",
            "events",
            "-n",
            ns,
            "-o",
            "json",
            "--field-selector",
            selector,
        )
        warnings += len(json.loads(events)["items"])
    print(
        f"Helm storage: {len(names)} releases, {records} revisions for {releases} HelmReleases; "
        f"{warnings} Warning events on HelmReleases"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument(
        "--namespaces", type=int, default=1, help="spread the releases (in pairs) over this many"
    )
    parser.add_argument("--kube-api-qps", type=float, default=50.0, help="the controller's")
    parser.add_argument("--kube-api-burst", type=int, default=300, help="the controller's")
    parser.add_argument("--interval", type=int, default=60, help="HelmRelease interval, seconds")
    args = parser.parse_args()
    kubeconfig, bin_dir = cluster_env()
    kubectl = str(bin_dir / "kubectl")
    work = Path(tempfile.mkdtemp(prefix="helmward-fleet-"))
    chart = write_message_chart(work / "src", "small", "1.0.0")
    spaces = (
        [NAMESPACE]
        if args.namespaces == 1
        else [f"{NAMESPACE}-{j}" for j in range(args.namespaces)]
    )
    log_path = work / "controller.log"
    flags = (
        "--concurrent",
        str(args.concurrent),
        "--kube-api-qps",
        str(args.kube_api_qps),
        "--kube-api-burst",
        str(args.kube_api_burst),
        # The Lease outside the namespaces the cleanup deletes: losing it there would stop the
        # controller before it uninstalls the releases and drops their finalizers.
        "--leader-election-namespace",
        "default",
    )
    async with (
        chart_repository(bin_dir / "helm", [chart], work / "repo") as charts,
        api_client(kubeconfig) as api,
    ):
        await install_crds(api)
        for ns in spaces:
            wait_gone(kubectl, str(kubeconfig), ns)
            sh(kubectl, "--kubeconfig", str(kubeconfig), "create", "namespace", ns)
        async with running_controller(
            kubeconfig,
            work / "data",
            namespace=NAMESPACE if args.namespaces == 1 else None,
            flags=flags,
            log=log_path,
            grace=600,
        ) as controller:
            try:
                for ns in spaces:
                    await create_helm_repository(api, ns, charts.url, interval="10m")
                deps = await measure(api, args, spaces, controller, kubectl, str(kubeconfig))
            finally:
                # Delete while the controller runs, so it uninstalls the releases and drops
                # finalizers.
                cleanup = await asyncio.create_subprocess_exec(
                    kubectl,
                    "--kubeconfig",
                    str(kubeconfig),
                    "delete",
                    "namespace",
                    *spaces,
                    "--timeout=300s",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await cleanup.wait()
    if deps is None:
        return 1

    pairs = {n: d[0] for n, d in deps.items() if d}
    latencies = helmward_log_latencies(log_path, pairs)
    if latencies:
        print(
            f"dependency Ready -> dependent install: p50 {statistics.median(latencies):.3f}s, "
            f"max {max(latencies):.3f}s over {len(latencies)} pairs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
