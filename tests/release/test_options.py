"""Engine requests built from a HelmRelease: the apply mode, conflicts and CRD policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import api
from api.helmrelease import HelmRelease
from internal.manager import options

TARGET = options.Target("app", "apps", "apps")
CHART = Path("/charts/app.tgz")


def _hr(**spec: Any) -> HelmRelease:
    hr = api.parse(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "app", "namespace": "apps"},
            "spec": {
                "interval": "5m",
                "chartRef": {"kind": "OCIRepository", "name": "app"},
                **spec,
            },
        }
    )
    assert isinstance(hr, HelmRelease)
    return hr


@pytest.mark.parametrize(
    ("mode", "last", "ssa", "conflicts"),
    [
        # auto follows the release the upgrade starts from
        (None, "ssa", "true", True),
        (None, "csa", "false", False),
        (None, None, "auto", True),
        # an explicit mode wins
        ("enabled", "csa", "true", True),
        ("disabled", "ssa", "false", False),
    ],
)
def test_upgrade_apply_mode(mode: str | None, last: str | None, ssa: str, conflicts: bool) -> None:
    upgrade = {"serverSideApply": mode} if mode else {}
    req = options.upgrade(_hr(upgrade=upgrade), TARGET, CHART, {}, last)
    assert (req.server_side_apply, req.force_conflicts) == (ssa, conflicts)


def test_force_replaces_only_when_applying_client_side() -> None:
    hr = _hr(upgrade={"force": True})
    assert options.upgrade(hr, TARGET, CHART, {}, "csa").force
    assert not options.upgrade(hr, TARGET, CHART, {}, "ssa").force


def test_rollback_follows_the_release_rolled_back_to() -> None:
    req = options.rollback(_hr(), TARGET, 1, "csa")
    assert (req.server_side_apply, req.force_conflicts) == ("false", False)
    req = options.rollback(_hr(), TARGET, 1, "ssa")
    assert (req.server_side_apply, req.force_conflicts) == ("true", True)


@pytest.mark.parametrize(
    ("spec", "install", "upgrade"),
    [
        ({}, "Create", "Create"),
        (
            {"install": {"crds": "Skip"}, "upgrade": {"crds": "CreateReplace"}},
            "Skip",
            "CreateReplace",
        ),
    ],
)
def test_crd_policy(spec: dict[str, Any], install: str, upgrade: str) -> None:
    hr = _hr(**spec)
    assert options.install(hr, TARGET, CHART, {}).crds == install
    assert options.upgrade(hr, TARGET, CHART, {}).crds == upgrade
