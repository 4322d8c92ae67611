"""The pure input builders: what an action's progress message says its timeout is."""

from __future__ import annotations

import pytest

from api.helmrelease import HelmRelease
from controller.helmrelease.inputs import action_timeout
from internal.release.actions import Action
from tests.helmrelease.conftest import release_object


@pytest.mark.parametrize(
    ("action", "want"),
    [
        (Action.INSTALL, "2m0s"),
        (Action.UPGRADE, "10m0s"),
        (Action.TEST, "30s"),
        (Action.ROLLBACK, "1h0m0s"),
        (Action.UNINSTALL_REMEDIATION, "7m0s"),
        (Action.UNLOCK, "7m0s"),
    ],
)
def test_each_action_runs_with_its_own_timeout_else_the_spec_s(action: Action, want: str) -> None:
    hr = HelmRelease.model_validate(
        release_object(
            timeout="7m",
            install={"timeout": "2m"},
            upgrade={"timeout": "10m"},
            test={"enable": True, "timeout": "30s"},
            rollback={"timeout": "1h"},
        )
    )
    assert action_timeout(hr, action) == want


def test_without_any_timeout_flux_s_default() -> None:
    hr = HelmRelease.model_validate(release_object())
    assert action_timeout(hr, Action.INSTALL) == "5m0s"
