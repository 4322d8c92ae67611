"""Helmward sharded as Flux shards: one `helmward run` per shard, each with its own
`--watch-label-selector`, artifact storage, ports and log; and what each one wrote to Helm's
storage, read back from its log."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from hack.testkit.launcher import Controller, running_controller

SHARD_LABEL = "sharding.fluxcd.io/key"
MAIN = ""
"""The unsharded controller's name among the shards: it owns what no shard is labelled for."""


def selector(shard: str) -> str:
    """Flux's selector of a shard; the main controller's selects what has no shard label."""
    return f"!{SHARD_LABEL}" if shard == MAIN else f"{SHARD_LABEL}={shard}"


def labels(shard: str) -> dict[str, str]:
    """The labels that put an object in `shard`."""
    return {} if shard == MAIN else {SHARD_LABEL: shard}


def log_path(work_dir: Path, shard: str) -> Path:
    return work_dir / f"controller-{shard or 'main'}.log"


@contextlib.asynccontextmanager
async def running_shards(
    kubeconfig: Path | str,
    work_dir: Path,
    shards: Sequence[str],
    *,
    namespace: str | None = None,
    flags: Sequence[str] = (),
    grace: float = 30.0,
) -> AsyncIterator[dict[str, Controller]]:
    """A controller per shard (MAIN for the unsharded one), each logging JSON to its
    `log_path`, with its storage in `work_dir/data-<shard>`; stopped on exit."""
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, Controller] = {}
        for shard in shards:
            running[shard] = await stack.enter_async_context(
                running_controller(
                    kubeconfig,
                    work_dir / f"data-{shard or 'main'}",
                    namespace=namespace,
                    flags=(
                        "--log-encoding=json",
                        f"--watch-label-selector={selector(shard)}",
                        *flags,
                    ),
                    log=log_path(work_dir, shard),
                    grace=grace,
                )
            )
        yield running


def storage_writes(log: Path) -> Counter[str]:
    """'namespace/name' of each HelmRelease whose Helm storage this controller wrote, with the
    number of records it wrote (created or updated) for it, from its JSON log."""
    writes: Counter[str] = Counter()
    if not log.exists():
        return writes
    for line in log.read_text().splitlines():
        if '"Helm storage ' not in line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        release = entry.get("HelmRelease")
        if not str(entry.get("msg", "")).startswith("Helm storage ") or not release:
            continue
        if str(entry["msg"]).split()[2] in ("create", "update"):
            writes[f"{release['namespace']}/{release['name']}"] += 1
    return writes
