"""The fleet's desired states and the waves of changes applied to them: pure data, seeded."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

CHART = "app"
VERSIONS = ("1.0.0", "1.1.0")
RETRIES = 1
# Flux's default history cap: older revisions are trimmed.
MAX_HISTORY = 5


@dataclass(frozen=True)
class Desired:
    """What one release should be: its chart, values and shape."""

    name: str
    depends_on: tuple[str, ...]
    test: bool
    post_render: bool
    version: str = VERSIONS[0]
    message: str = "v0"
    fail_test: bool = False
    deleted: bool = False

    @property
    def fails(self) -> bool:
        """Its intended end: a test that fails, so the release is not Ready."""
        return self.test and self.fail_test


def build(count: int, rng: random.Random) -> dict[str, Desired]:
    """`count` releases in chains of three (a root, then two that each depend on the one before);
    tests on half of them, post-renderers on a quarter; some of the tested fail from the start."""
    fleet: dict[str, Desired] = {}
    names = [f"r{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        deps = (names[i - 1],) if i % 3 else ()
        test = rng.random() < 0.5
        fleet[name] = Desired(
            name, deps, test, post_render=rng.random() < 0.25, fail_test=test and i % 5 == 0
        )
    return fleet


def wave(fleet: dict[str, Desired], number: int, rng: random.Random) -> dict[str, Desired]:
    """The fleet after wave `number` (1..3): 1 upgrades half (chart and values), 2 fixes the
    failing ones and breaks others mid-upgrade, 3 fixes everything and deletes some leaves."""
    out = dict(fleet)
    for name, d in fleet.items():
        if d.deleted:
            continue
        if number == 1 and rng.random() < 0.5:
            out[name] = dataclasses.replace(d, version=VERSIONS[1], message="v1")
        elif number == 2:
            breaks = d.test and not d.fail_test and rng.random() < 0.3
            out[name] = dataclasses.replace(d, fail_test=breaks, message="v2")
        elif number == 3:
            leaf = not any(name in o.depends_on for o in fleet.values())
            out[name] = dataclasses.replace(
                d,
                fail_test=False,
                version=VERSIONS[1],
                message="v3",
                deleted=leaf and bool(d.depends_on) and rng.random() < 0.15,
            )
    return out


WAVES = 3


def spec(d: Desired, *, chart_interval: str = "30s") -> dict[str, Any]:
    """The HelmRelease spec of `d`."""
    body: dict[str, Any] = {
        "interval": "1m",
        "timeout": "60s",
        "maxHistory": MAX_HISTORY,
        "chart": {
            "spec": {
                "chart": CHART,
                "version": d.version,
                "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                "interval": chart_interval,
            }
        },
        "dependsOn": [{"name": n} for n in d.depends_on],
        "values": {"message": d.message, "failTest": d.fail_test},
        "install": {"remediation": {"retries": RETRIES}},
        "upgrade": {"remediation": {"retries": RETRIES, "remediateLastFailure": True}},
    }
    if d.test:
        body["test"] = {"enable": True}
    if d.post_render:
        patch = "- op: add\n  path: /metadata/labels\n  value: {chaos: rendered}\n"
        body["postRenderers"] = [
            {"kustomize": {"patches": [{"target": {"kind": "ConfigMap"}, "patch": patch}]}}
        ]
    return body
