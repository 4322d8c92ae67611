"""Shards benchmark: N HelmReleases spread over S shards (a `helmward run` per shard, each with
Flux's `--watch-label-selector=sharding.fluxcd.io/key=shardK`), against the local control plane.

Prints, per shard: the releases it reconciled (those whose Helm storage it wrote, from its
log), the ones another shard also wrote (duplicates: must be 0), the wall time until its
releases were all Ready, and its peak RSS; then the wall time until all were Ready.
`--shards 0` runs one unsharded controller instead, as the baseline.

    PYTHONPATH=. .venv/bin/python hack/bench/shards.py --releases 200 --shards 2
Needs `hack/cluster.sh up`. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from hack.bench.measure import peak_rss_mib
from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import api_client, helm_release_body, install_crds
from hack.testkit.launcher import Controller
from hack.testkit.plane import cluster_env
from hack.testkit.shards import MAIN, labels, log_path, running_shards, storage_writes
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES, HELM_REPOSITORIES

NAMESPACE = "shards-bench"
TIMEOUT = 1800.0


def _name(shard: str) -> str:
    return shard or "main"


async def _create(api: client.ApiClient, resource: Any, body: dict[str, Any]) -> None:
    body = {"apiVersion": resource.api_version, "kind": resource.kind, **body}
    await rest.request(api, "POST", resource.path(NAMESPACE), body=body)


def _release(name: str, shard: str, interval: int) -> dict[str, Any]:
    return helm_release_body(
        name,
        NAMESPACE,
        interval=f"{interval}s",
        repository=f"charts-{_name(shard)}",
        labels=labels(shard),
    )


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def wait_ready(
    api: client.ApiClient, home: dict[str, str], start: float, running: dict[str, Controller]
) -> dict[str, float] | None:
    """Seconds from `start` until each shard's releases were all Ready; None when they were
    not within TIMEOUT, or a shard's controller exited."""
    done: dict[str, float] = {}
    shards = set(home.values())
    while True:
        ended = {_name(s): c.returncode for s, c in running.items() if c.returncode is not None}
        if ended:
            print(f"controllers exited (shard: exit code): {ended}")
            return None
        listing = await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE))
        ready = {o["metadata"]["name"] for o in listing["items"] if _ready(o)}
        now = time.monotonic() - start
        for shard in shards - done.keys():
            if all(n in ready for n, s in home.items() if s == shard):
                done[shard] = now
        if len(done) == len(shards):
            return done
        if now > TIMEOUT:
            print(f"timed out with {len(ready)}/{len(home)} Ready")
            return None
        await asyncio.sleep(0.5)


def report(
    work: Path, home: dict[str, str], running: dict[str, Controller], ready: dict[str, float]
) -> int:
    """Per shard: reconciled, duplicates, wall to Ready, peak RSS. 1 if any release was
    written by a shard not its own, by two shards, or by none."""
    writes = {shard: storage_writes(log_path(work, shard)) for shard in running}
    writers: Counter[str] = Counter()
    for counts in writes.values():
        writers.update(key.partition("/")[2] for key in counts)
    failed = 0
    for shard, controller in running.items():
        mine = {n for n, s in home.items() if s == shard}
        wrote = {key.partition("/")[2] for key in writes[shard]}
        duplicates = sum(1 for n in wrote if writers[n] > 1)
        foreign = len(wrote - mine)
        print(
            f"{_name(shard)}: {len(wrote)}/{len(mine)} releases reconciled "
            f"({sum(writes[shard].values())} storage writes), {duplicates} duplicates, "
            f"{foreign} of another shard, all Ready in {ready[shard]:.1f}s, "
            f"peak RSS {peak_rss_mib(controller.pid):.0f} MiB"
        )
        failed |= bool(duplicates or foreign or wrote != mine)
    return failed


async def delete_releases(api: client.ApiClient) -> None:
    """Delete every HelmRelease of the namespace and wait until the finalizers let them go."""
    listing = await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE))
    for item in listing["items"]:
        await rest.delete_optional(api, HELM_RELEASES.path(NAMESPACE, item["metadata"]["name"]))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if not (await rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE)))["items"]:
            return
        await asyncio.sleep(1)


def fresh_namespace(kubectl: list[str]) -> None:
    """A previous run's namespace may still be terminating (its releases being uninstalled)."""
    wait = [*kubectl, "wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=600s"]
    subprocess.run(wait, capture_output=True)
    subprocess.run([*kubectl, "create", "namespace", NAMESPACE], check=True, capture_output=True)


async def run(args: argparse.Namespace) -> int:
    kubeconfig, bin_dir = cluster_env()
    kubectl = str(bin_dir / "kubectl")
    work = Path(tempfile.mkdtemp(prefix="helmward-shards-"))
    chart = write_message_chart(work / "src", "small", "1.0.0")
    shards = [f"shard{k + 1}" for k in range(args.shards)] or [MAIN]
    names = [f"app-{i:04d}" for i in range(args.releases)]
    home = {n: shards[i % len(shards)] for i, n in enumerate(names)}
    base = [kubectl, "--kubeconfig", str(kubeconfig)]
    flags = ("--concurrent", str(args.concurrent))
    async with (
        chart_repository(bin_dir / "helm", [chart], work / "repo") as charts,
        api_client(kubeconfig) as api,
    ):
        await install_crds(api)
        fresh_namespace(base)
        async with running_shards(
            kubeconfig, work, shards, namespace=NAMESPACE, flags=flags, grace=600
        ) as running:
            try:
                for shard in shards:
                    meta = {"name": f"charts-{_name(shard)}", "labels": labels(shard)}
                    spec = {"url": charts.url, "interval": "10m"}
                    await _create(api, HELM_REPOSITORIES, {"metadata": meta, "spec": spec})
                start = time.monotonic()
                sem = asyncio.Semaphore(20)

                async def apply(name: str) -> None:
                    async with sem:
                        await _create(api, HELM_RELEASES, _release(name, home[name], args.interval))

                await asyncio.gather(*(apply(n) for n in names))
                ready = await wait_ready(api, home, start, running)
                if ready is None:
                    return 1
                print(
                    f"{args.releases} HelmReleases over {len(shards)} "
                    f"{'shards' if args.shards else 'unsharded controller'} "
                    f"(--concurrent {args.concurrent} each): all Ready in "
                    f"{max(ready.values()):.1f}s"
                )
                return report(work, home, running, ready)
            finally:
                # The releases first, while the shards run and hold their Leases (which live in
                # this namespace), so their finalizers uninstall them; then the namespace.
                await delete_releases(api)
                cleanup = await asyncio.create_subprocess_exec(
                    *base,
                    "delete",
                    "namespace",
                    NAMESPACE,
                    "--timeout=600s",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await cleanup.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=200)
    parser.add_argument("--shards", type=int, default=2, help="0: one unsharded controller")
    parser.add_argument("--concurrent", type=int, default=4, help="each controller's")
    parser.add_argument("--interval", type=int, default=600, help="HelmRelease interval, seconds")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
