"""What the fleet benchmarks measure, shared by hack/bench/fleet.py and hack/bench/h2h.py: the API
server's request counters, a process's CPU time and memory from /proc, Helm storage as a watch
sees it, and Helmward's own install timestamps from its console log."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import os
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from internal.kube import rest
from internal.kube.resources import SECRETS

# The kinds a Helm controller reads and writes for its releases (what their idle traffic is
# counted on; the control plane's own controllers and KWOK touch others).
RELEASE_RESOURCES = (
    "helmreleases",
    "helmcharts",
    "helmrepositories",
    "secrets",
    "events",
    "configmaps",
)
READS = ("GET", "LIST", "WATCH")
# Helmward's console log: time, level, logger, then the object the reconcile is about.
LOG_LINE = re.compile(
    r"^(\S+)\tINFO\tcontroller\.helmrelease\.\w+\tHelmRelease \S+/(\S+): state (\S+)"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def api_requests(kubectl: str, kubeconfig: str) -> Counter[tuple[str, str]]:
    """apiserver_request_total summed by (verb, resource), from the API server's metrics."""
    counts: Counter[tuple[str, str]] = Counter()
    text = subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/metrics"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        counts[(labels.get("verb", ""), labels.get("resource", ""))] += int(float(line.split()[-1]))
    return counts


def release_traffic(delta: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """The part of a request count on RELEASE_RESOURCES."""
    return Counter({k: v for k, v in delta.items() if k[1] in RELEASE_RESOURCES})


def writes(traffic: Counter[tuple[str, str]]) -> int:
    return sum(v for (verb, _), v in traffic.items() if verb not in READS)


def _status_fields(pid: int) -> dict[str, int]:
    """The kB figures of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, ...)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            out[key] = int(value.split()[0])
    return out


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so each controller starts with its binaries
    read from disk. A file just written, or read whole, sits in the cache in large folios,
    and a mapping of it is then made resident a folio at a time: the same library measured
    28 MiB more RSS freshly built than after a drop. False when this process may not."""
    try:
        os.sync()
        DROP_CACHES.write_text("1\n")
    except OSError:
        return False
    return True


def rss_mib(pid: int) -> float:
    return _status_fields(pid).get("VmRSS", 0) / 1024


def peak_rss_mib(pid: int) -> float:
    """The kernel's high-water mark of the process's RSS (VmHWM)."""
    return _status_fields(pid).get("VmHWM", 0) / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process and of its children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is fields[0]; utime, stime, cutime, cstime are fields 14-17 of
    # stat(5), so [11:15] here.
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def total_cpu_seconds(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


@dataclass
class RssSampler:
    """The summed RSS of some processes, sampled every `every` seconds while running; the
    peak of the sums."""

    pids: Sequence[int]
    every: float = 0.2
    peak_mib: float = 0.0
    samples: int = 0

    def sample(self) -> None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            self.peak_mib = max(self.peak_mib, sum(rss_mib(p) for p in self.pids))
            self.samples += 1

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[RssSampler]:
        """Samples while the block runs, and once more at its end."""
        task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            await _cancelled(task)
            self.sample()


def decode_release(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The Helm release JSON a storage Secret holds (base64 of gzip, under the API's base64)."""
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    return dict(json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw))


@dataclass
class StorageWatch:
    """Helm's release records (Secrets labelled owner=helm) as a watch sees them: when each
    release's first record appeared (Helm writes it, pending-install, before it applies
    anything) and when a record of it first showed status deployed, in seconds of this
    process's wall clock at the event; and Helm's own sub-second stamp of each first record.
    Helm records no time of reaching deployed, so that end is the watch's."""

    created: dict[str, float] = field(default_factory=dict)
    deployed: dict[str, float] = field(default_factory=dict)
    first_deployed: dict[str, float] = field(default_factory=dict)
    """Helm's own info.first_deployed of each release's first record: the installing
    controller's clock, sub-second, taken when Helm began the install."""

    def _seen(self, event: Mapping[str, Any], at: float) -> None:
        secret = event.get("object") or {}
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if "name" not in labels or event.get("type") not in ("ADDED", "MODIFIED"):
            return
        key = f"{secret['metadata']['namespace']}/{labels['name']}"
        if key not in self.created:
            self.created[key] = at
            with contextlib.suppress(KeyError, ValueError, OSError):
                info = decode_release(secret)["info"]
                self.first_deployed[key] = _timestamp(info["first_deployed"])
        if labels.get("status") == "deployed":
            self.deployed.setdefault(key, at)

    async def _run(self, api: client.ApiClient, resource_version: str) -> None:
        path = SECRETS.path()
        query = {"labelSelector": "owner=helm"}
        while True:
            with contextlib.suppress(rest.WatchExpired):
                async for event in rest.watch(
                    api, path, resource_version=resource_version, query=query
                ):
                    if event.get("type") == "BOOKMARK":
                        resource_version = event["object"]["metadata"]["resourceVersion"]
                        continue
                    self._seen(event, time.time())
                    resource_version = event["object"]["metadata"]["resourceVersion"]

    @contextlib.asynccontextmanager
    async def watching(self, api: client.ApiClient) -> AsyncIterator[StorageWatch]:
        """Records what the watch sees while the block runs (from the records there at its
        start on)."""
        listing = await rest.request(
            api, "GET", SECRETS.path(), query={"labelSelector": "owner=helm"}
        )
        task = asyncio.create_task(self._run(api, listing["metadata"]["resourceVersion"]))
        try:
            yield self
        finally:
            await _cancelled(task)

    def lags(self) -> list[float]:
        """How long after Helm stamped each release's first record (info.first_deployed) the
        watch saw it: Helm renders the chart between the two, so this bounds the watch's own
        delay from above."""
        return [self.created[k] - t for k, t in self.first_deployed.items()]

    def began(self, key: str) -> float | None:
        """When the release's install began: Helm's own stamp on its first record (taken
        before it renders the chart), else when the watch saw that record."""
        return self.first_deployed.get(key, self.created.get(key))

    def latencies(self, deps: Mapping[str, str]) -> list[float]:
        """For each dependent → dependency (namespace/name keys): from the dependency's record
        showing deployed to the dependent's install beginning."""
        out = []
        for dependent, dependency in deps.items():
            began = self.began(dependent)
            if began is not None and dependency in self.deployed:
                out.append(began - self.deployed[dependency])
        return out


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _timestamp(text: str) -> float:
    # Go writes nanoseconds; fromisoformat takes at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


def helmward_log_times(log: Path) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """From Helmward's console log, per release name: when it was first seen in sync, and when
    a reconcile first found it absent (its install about to begin)."""
    done: dict[str, datetime] = {}
    began: dict[str, datetime] = {}
    for line in log.read_text().splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        if m.group(3) == "InSync":
            done.setdefault(m.group(2), at)
        elif m.group(3) == "Absent":
            began.setdefault(m.group(2), at)
    return done, began


def helmward_log_latencies(log: Path, deps: Mapping[str, str]) -> list[float]:
    """Dependency in sync → dependent's install, from the log, for dependent → dependency
    release names."""
    done, began = helmward_log_times(log)
    return [
        (began[n] - done[d]).total_seconds() for n, d in deps.items() if n in began and d in done
    ]


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 < q < 1), interpolated; the one value of a single sample."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
