#!/usr/bin/env python3
"""What secret-store references cost the store: backend calls and AWS API calls per interval for
a fleet of releases, with and without the resolver's cache.

    .venv/bin/python hack/bench/refs.py [--releases 1000] [--refs 5]

Against moto's Secrets Manager on 127.0.0.1, through the real aiobotocore client. Each release's
values hold `--refs` references; one interval is every release resolved once, as every
reconcile at `spec.interval` does. Two layouts: every release naming the same secrets (a team's
database and API keys), and every release naming its own. The cache's TTL is the interval (the
default, 1m, against a 1m interval), and the second interval starts after it expired, so it
shows the steady state. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hack.testkit.secret_stores import Moto, running_moto  # noqa: E402
from internal.values.backends import open_backend  # noqa: E402
from internal.values.backends.base import Backend, Credentials  # noqa: E402
from internal.values.resolve import RefCache, Resolver  # noqa: E402


def _read(clock: list[float]) -> float:
    return clock[0]


def fleet(releases: int, refs: int, shared: bool) -> list[dict[str, Any]]:
    def name(release: int, ref: int) -> str:
        return f"team/secret-{ref}" if shared else f"app-{release}/secret-{ref}"

    return [
        {f"key{j}": f"ref+awssecrets://{name(i, j)}#/value" for j in range(refs)}
        for i in range(releases)
    ]


async def interval(
    resolver: Resolver, values: list[dict[str, Any]], opener: Any
) -> tuple[int, float]:
    """Backend calls and seconds for one interval."""
    before = sum(resolver.calls.values())
    start = time.perf_counter()
    for one in values:
        await resolver.resolve(one, opener.credentials, opener)
    return sum(resolver.calls.values()) - before, time.perf_counter() - start


class Opener:
    """The backend kept open across reconciles, as the controller keeps it, counting the AWS
    API calls its client makes."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.api_calls = 0
        self.backend: Backend | None = None

    async def __call__(self, name: str) -> Backend:
        if self.backend is None:
            self.backend = await open_backend(name, self.credentials)
            session = self.backend.clients.session  # type: ignore[attr-defined]
            session.register("before-call", self._count)
        return _NoClose(self.backend)

    def _count(self, **_: Any) -> None:
        self.api_calls += 1


class _NoClose:
    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    async def get(self, refs: Any) -> Any:
        return await self.inner.get(refs)

    async def set(self, ref: Any, value: str) -> None:
        await self.inner.set(ref, value)

    async def close(self) -> None:
        return None


async def run(moto: Moto, releases: int, refs: int) -> None:
    credentials = Credentials(values=moto.credentials(), source="bench")
    sm = moto.client("secretsmanager")
    print(f"{releases} releases x {refs} references, Secrets Manager on moto")
    columns = ("layout", "cache", "interval", "backend calls", "API calls", "seconds")
    print("{:<8} {:<10} {:<9} {:>13} {:>10} {:>8}".format(*columns))
    for shared in (True, False):
        names = {
            r.split("://")[1].split("#")[0]
            for v in fleet(releases, refs, shared)
            for r in v.values()
        }
        for name in sorted(names):
            with contextlib.suppress(sm.exceptions.ResourceExistsException):
                sm.create_secret(Name=name, SecretString='{"value": "x"}')
        values = fleet(releases, refs, shared)
        for ttl, label in ((60.0, "ttl 1m"), (0.0, "none")):
            now = [0.0]
            resolver = Resolver(RefCache(ttl, clock=functools.partial(_read, now)))
            opener = Opener(credentials)
            for n in (1, 2):
                before = opener.api_calls
                calls, seconds = await interval(resolver, values, opener)
                layout = "shared" if shared else "own"
                api_calls = opener.api_calls - before
                print(f"{layout:<8} {label:<10} {n:<9} {calls:>13} {api_calls:>10} {seconds:>8.1f}")
                now[0] += 61.0  # the next interval, after the TTL
            if opener.backend is not None:
                await opener.backend.close()
    print(
        f"without batching, one GetSecretValue per reference: {releases * refs} API calls an "
        "interval in either layout"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--refs", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with running_moto(enforce_iam=False) as moto:
        asyncio.run(run(moto, args.releases, args.refs))


if __name__ == "__main__":
    main()
