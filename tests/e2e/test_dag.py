"""Twelve HelmReleases in a dependsOn tree, applied at once, install in topological order with
every level in parallel. The order and the times are printed."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e

TREE = {
    "r00": [],
    "r01": ["r00"],
    "r02": ["r00"],
    "r03": ["r01"],
    "r04": ["r01"],
    "r05": ["r02"],
    "r06": ["r02"],
    "r07": ["r03", "r04"],
    "r08": ["r04"],
    "r09": ["r05"],
    "r10": ["r06"],
    "r11": ["r05", "r06"],
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_twelve_releases_install_in_topological_order(harness: Harness) -> None:
    h = harness
    await asyncio.gather(
        *(
            h.apply_release(
                name, {**h.chart_spec(version="1.0.0"), "dependsOn": [{"name": d} for d in deps]}
            )
            for name, deps in reversed(TREE.items())
        )
    )
    objs = await asyncio.gather(*(h.wait(n, "Ready", "True", within=180) for n in TREE))
    started = {o["metadata"]["name"]: _at(o["status"]["history"][0]["firstDeployed"]) for o in objs}
    t0 = min(started.values())
    for name in sorted(started, key=started.__getitem__):
        print(
            f"{name} deployed at +{(started[name] - t0).total_seconds():.2f}s "
            f"(after {', '.join(TREE[name]) or 'nothing'})"
        )
    for name, deps in TREE.items():
        for dep in deps:
            assert started[dep] < started[name], f"{name} deployed before its dependency {dep}"
    # Siblings do not wait for each other: every level takes about one install, so the whole
    # tree takes a few install times, not twelve.
    assert (max(started.values()) - t0).total_seconds() < 30
