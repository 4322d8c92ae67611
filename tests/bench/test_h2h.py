"""The head-to-head benchmark (hack/bench/h2h.py) itself works: at 20 releases in one namespace,
Flux and then Helmward, each on a control plane of its own, bring them all Ready, and the JSON
holds every figure, the ratios and the targets. No figure is judged: the machine is shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hack.bench import h2h

pytestmark = pytest.mark.e2e

# Figures every completed run has above zero.
POSITIVE = (
    "wall_s",
    "cpu_install_s",
    "cpu_idle_s",
    "apiserver_cpu_install_s",
    "etcd_cpu_install_s",
    "peak_rss_mib",
)
PROCESSES = {"flux": {"source-controller", "helm-controller"}, "helmward": {"helmward"}}


async def test_both_controllers_install_the_fleet_and_every_figure_is_written(
    tmp_path: Path,
) -> None:
    out = tmp_path / "h2h.json"
    argv = ["--releases", "20", "--layout", "flat", "--interval", "10", "--json", str(out)]
    assert await h2h.main(argv) == 0

    figures = json.loads(out.read_text())
    assert (figures["releases"], figures["interval_s"], figures["concurrent"]) == (20, 10, 4)
    flat = figures["layouts"]["flat"]
    for which, processes in PROCESSES.items():
        run = flat["runs"][which]
        assert (run["failed"], run["releases"], run["layout"]) == (None, 20, "flat")
        assert {name: run[name] > 0 for name in POSITIVE} == dict.fromkeys(POSITIVE, True)
        assert set(run["vmhwm_mib"]) == processes
        assert all(mib > 0 for mib in run["vmhwm_mib"].values())
        # The summed samples never exceed the summed high-water marks.
        assert run["peak_rss_mib"] <= sum(run["vmhwm_mib"].values()) + 1
        assert run["rss_samples"] >= run["wall_s"] / 0.5
        assert run["idle_requests_per_release"] >= run["idle_writes_per_release"] >= 0
        assert run["first_idle_requests_per_release"] >= 0
        assert run["idle_cpu_ms_per_release_hour"] == pytest.approx(
            run["cpu_idle_s"] * 1000 / 20 * 3600 / 10
        )
        # No dependencies in this layout.
        assert (run["dependency_pairs"], run["dependency_p50_s"]) == (0, None)
    ratios = flat["ratios"]
    for name in POSITIVE:
        assert ratios[name] == pytest.approx(
            flat["runs"]["helmward"][name] / flat["runs"]["flux"][name]
        )
    assert {name: goal["met"] is None for name, goal in flat["targets"].items()} == {
        "wall_s": False,
        "cpu_install_s": False,
        "peak_rss_mib": False,
        "dependency_p50_s": True,
        "idle_requests_per_release": False,
    }
