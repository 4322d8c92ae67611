"""Flux's object helpers on the HelmRelease model, row by row."""

from __future__ import annotations

from typing import Any

import pytest

import api
from api.helmrelease import HelmRelease, InstallRemediation, UpgradeRemediation

pytestmark = pytest.mark.api


def release(
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> HelmRelease:
    raw: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "a", "namespace": "n", "annotations": annotations or {}},
        "spec": {
            "interval": "5m",
            "chartRef": {"kind": "OCIRepository", "name": "c"},
            **(spec or {}),
        },
        "status": status or {},
    }
    hr = api.parse(raw)
    assert isinstance(hr, HelmRelease)
    return hr


def test_the_active_remediation_follows_the_last_attempted_action() -> None:
    assert release().active_remediation() is None
    installing = release(
        {"install": {"remediation": {"retries": 2}}}, {"lastAttemptedReleaseAction": "install"}
    )
    assert installing.active_remediation() == InstallRemediation(retries=2)
    upgrading = release(status={"lastAttemptedReleaseAction": "upgrade"})
    assert upgrading.active_remediation() == UpgradeRemediation()


@pytest.mark.parametrize(
    ("retries", "failures", "exhausted"),
    [(0, 0, False), (0, 1, True), (2, 2, False), (2, 3, True), (-1, 99, False)],
)
def test_retries_run_out_after_the_configured_count(
    retries: int, failures: int, exhausted: bool
) -> None:
    hr = release(
        {"upgrade": {"remediation": {"retries": retries}}},
        {"lastAttemptedReleaseAction": "upgrade", "upgradeFailures": failures},
    )
    assert hr.retries_exhausted() is exhausted


@pytest.mark.parametrize(
    ("annotations", "handled", "wanted"),
    [
        ({}, None, None),
        ({"reconcile.fluxcd.io/forceAt": "t1"}, None, None),  # needs requestedAt to match
        (
            {"reconcile.fluxcd.io/forceAt": "t1", "reconcile.fluxcd.io/requestedAt": "t1"},
            None,
            "t1",
        ),
        (
            {"reconcile.fluxcd.io/forceAt": "t1", "reconcile.fluxcd.io/requestedAt": "t1"},
            "t1",
            None,
        ),
    ],
)
def test_a_force_request_is_handled_once(
    annotations: dict[str, str], handled: str | None, wanted: str | None
) -> None:
    hr = release(status={"lastHandledForceAt": handled} if handled else {}, annotations=annotations)
    assert hr.force_request() == wanted


def test_a_reset_request_is_handled_once() -> None:
    both = {"reconcile.fluxcd.io/resetAt": "r", "reconcile.fluxcd.io/requestedAt": "r"}
    assert release(annotations=both).reset_request() == "r"
    assert release(status={"lastHandledResetAt": "r"}, annotations=both).reset_request() is None


@pytest.mark.parametrize(
    ("spec", "last", "ignored"),
    [
        ({}, None, False),
        ({"test": {"ignoreFailures": True}}, None, True),
        (
            {
                "test": {"ignoreFailures": True},
                "upgrade": {"remediation": {"ignoreTestFailures": False}},
            },
            "upgrade",
            False,
        ),
        ({"install": {"remediation": {"ignoreTestFailures": True}}}, "install", True),
    ],
)
def test_test_failures_are_ignored_by_the_active_remediation_first(
    spec: dict[str, Any], last: str | None, ignored: bool
) -> None:
    status = {"lastAttemptedReleaseAction": last} if last else {}
    assert release(spec, status).ignore_test_failures() is ignored
