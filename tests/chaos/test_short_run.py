"""The short chaos run of `make test`: the harness as a subprocess on a control plane of its own,
a fixed seed, every fault kind at least once; it must exit 0 with a PASS summary."""

from __future__ import annotations

import re
import subprocess
import sys

from hack.testkit.paths import REPO_ROOT

SEED = 18
SUMMARY = re.compile(
    r"^chaos seed=18 releases=30 kills=(\d+) restarts=(\d+) exits=(\d+) failovers=(\d+) "
    r"converge=([\d.]+)s PASS$"
)


def test_short_chaos_run_converges_with_every_invariant() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "hack" / "chaos" / "run.py"),
            "--seed",
            str(SEED),
            "--releases",
            "30",
            "--duration",
            "180",
            "--converge",
            "240",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(run.stdout[-8000:], run.stderr[-4000:])
    lines = run.stdout.strip().splitlines()
    assert lines[0] == f"seed {SEED}"
    assert run.returncode == 0
    m = SUMMARY.match(lines[-1])
    assert m, lines[-1]
    kills, restarts, exits, failovers = (int(g) for g in m.groups()[:4])
    assert kills >= 5
    assert restarts == kills + exits
    assert failovers >= 1
    table = run.stdout
    for fault in (
        "kube-apiserver stopped+started",
        "etcd paused",
        "chart server slow",
        "chart server error",
        "chart server cut",
    ):
        count = re.search(rf"^  {re.escape(fault)}\s+(\d+)$", table, re.M)
        assert count, fault
        assert int(count.group(1)) >= 1, fault
    assert "FAIL" not in table
