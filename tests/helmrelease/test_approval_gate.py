"""The approval gate in the atomic loop, against the fake engine with a fake planner: what is
held, what the status and events say, and what an approval or an invalid annotation does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from api import conditions
from controller.helmrelease import inputs
from controller.helmrelease.actions import Request
from controller.helmrelease.actions.drift import Drifted
from controller.helmrelease.approval_plans import PreviewError, drift_plan
from controller.helmrelease.atomic import run_atomic
from controller.helmrelease.work import Retry, Work
from internal.drift.diff import Change as Drift
from internal.drift.diff import ChangeType
from internal.release.actions import Action
from internal.release.inventory import ObjectRef
from tests.helmrelease.conftest import Harness, release_object
from tests.helmrelease.fakeengine import Failure
from tests.helmrelease.test_atomic import DIGESTS, new_chart_version, next_work, reasons


@dataclass(frozen=True)
class FakePlan:
    digest: str
    summary: str


@dataclass
class FakePlanner:
    """A plan per action and chart version; `error` makes planning fail."""

    asked: list[Action]
    error: str = ""

    async def __call__(self, req: Request, action: Action, drifted: Drifted) -> FakePlan:
        self.asked.append(action)
        if self.error:
            raise PreviewError(self.error)
        version = req.mgr.chart.info.metadata["version"]
        return FakePlan(f"sha256:{action.value}-{version}", "+0 ~1 -0")


def gated(*, scope: str | None = None, approved: str | None = None) -> dict[str, Any]:
    raw = release_object()
    notes = {"helmward.io/approval": "required"}
    if scope:
        notes["helmward.io/approval-scope"] = scope
    if approved:
        notes["helmward.io/approved"] = approved
    raw["metadata"]["annotations"] = notes
    return raw


async def reconcile(
    harness: Harness, raw: dict[str, Any], work: Work | None = None, planner: Any = None
) -> Work:
    """One reconcile of `raw`, with the status `work` left (the next reconcile's view)."""
    if work is not None:
        work = next_work(Work(raw, work.hr))
    req = harness.request(raw, work)
    await run_atomic(
        req, inputs.desired(req.work.hr, harness.info, DIGESTS), planner or FakePlanner([])
    )
    return req.work


def ready(work: Work) -> tuple[str, str, str]:
    c = conditions.get(work.status.conditions, "Ready")
    assert c is not None
    return c.status.value, c.reason, c.message


def awaiting(digest: str, chart: str = "app@1.1.0", action: str = "Helm upgrade") -> str:
    return (
        f"{action} awaits approval of plan {digest} (+0 ~1 -0) for release apps/app with chart "
        f"{chart}; approve it with 'helmward approve -n apps app'"
    )


async def held_upgrade(harness: Harness, raw: dict[str, Any]) -> Work:
    """Installed (not held: the scope is upgrades), then a new chart version."""
    work = await reconcile(harness, raw)
    assert harness.lib.history("app") == [(1, "deployed")]
    assert reasons(work) == [("Normal", "InstallSucceeded")]
    new_chart_version(harness)
    return await reconcile(harness, raw, work)


async def test_an_upgrade_waits_for_approval_and_makes_no_revision(harness: Harness) -> None:
    raw = gated()
    work = await held_upgrade(harness, raw)
    assert harness.lib.history("app") == [(1, "deployed")]
    assert ready(work) == ("False", "AwaitingApproval", awaiting("sha256:upgrade-1.1.0"))
    assert reasons(work) == [("Normal", "AwaitingApproval")]
    assert work.events[0].message == awaiting("sha256:upgrade-1.1.0")
    types = [c.type for c in work.status.conditions or []]
    assert "Reconciling" not in types
    assert "Stalled" not in types
    released = conditions.get(work.status.conditions, "Released")
    assert released is not None
    assert released.reason == "InstallSucceeded"
    again = await reconcile(harness, raw, work)
    assert again.events == [], "one event per plan, not per reconcile"
    assert ready(again) == ready(work)
    assert harness.lib.history("app") == [(1, "deployed")]


async def test_the_approved_plan_upgrades_once(harness: Harness) -> None:
    work = await held_upgrade(harness, gated())
    approved = gated(approved="sha256:upgrade-1.1.0")
    work = await reconcile(harness, approved, work)
    assert harness.lib.history("app") == [(1, "superseded"), (2, "deployed")]
    assert reasons(work) == [("Normal", "PlanApproved"), ("Normal", "UpgradeSucceeded")]
    assert work.events[0].message == (
        "Plan sha256:upgrade-1.1.0 (+0 ~1 -0) approved: running Helm upgrade for release "
        "apps/app with chart app@1.1.0"
    )
    assert ready(work)[:2] == ("True", "UpgradeSucceeded")
    again = await reconcile(harness, approved, work)
    assert again.events == []
    assert len(harness.lib.history("app")) == 2


async def test_an_approval_of_an_older_plan_is_refused(harness: Harness) -> None:
    work = await held_upgrade(harness, gated())
    stale = gated(approved="sha256:upgrade-1.0.5")
    work = await reconcile(harness, stale, work)
    assert harness.lib.history("app") == [(1, "deployed")]
    assert ready(work) == (
        "False",
        "AwaitingApproval",
        awaiting("sha256:upgrade-1.1.0")
        + "; approval sha256:upgrade-1.0.5 is void: it approves another plan",
    )
    assert reasons(work) == [("Warning", "ApprovalRefused")]
    again = await reconcile(harness, stale, work)
    assert again.events == []


async def test_scope_all_holds_the_first_install(harness: Harness) -> None:
    planner = FakePlanner([])
    work = await reconcile(harness, gated(scope="all"), planner=planner)
    assert harness.lib.history("app") == []
    assert planner.asked == [Action.INSTALL]
    assert ready(work) == (
        "False",
        "AwaitingApproval",
        awaiting("sha256:install-1.0.0", "app@1.0.0", "Helm install"),
    )
    approved = gated(scope="all", approved="sha256:install-1.0.0")
    work = await reconcile(harness, approved, work)
    assert harness.lib.history("app") == [(1, "deployed")]
    assert reasons(work) == [("Normal", "PlanApproved"), ("Normal", "InstallSucceeded")]


async def test_without_the_annotation_nothing_is_planned(harness: Harness) -> None:
    planner = FakePlanner([])
    work = await reconcile(harness, release_object(), planner=planner)
    new_chart_version(harness)
    await reconcile(harness, release_object(), work, planner)
    assert planner.asked == []
    assert harness.lib.history("app") == [(1, "superseded"), (2, "deployed")]


async def test_an_unknown_annotation_value_stalls_until_fixed(harness: Harness) -> None:
    raw = release_object()
    raw["metadata"]["annotations"] = {"helmward.io/approval": "yes"}
    work = await reconcile(harness, raw)
    message = "annotation helmward.io/approval: 'yes' is not 'required'"
    assert harness.lib.history("app") == []
    assert ready(work) == ("False", "InvalidApproval", message)
    stalled = conditions.get(work.status.conditions, "Stalled")
    assert stalled is not None
    assert (stalled.reason, stalled.message) == ("InvalidApproval", message)
    assert reasons(work) == [("Warning", "InvalidApproval")]
    again = await reconcile(harness, raw, work)
    assert again.events == []
    fixed = await reconcile(harness, gated(), again)
    assert conditions.get(fixed.status.conditions, "Stalled") is None
    assert harness.lib.history("app") == [(1, "deployed")]


async def test_a_plan_that_cannot_be_made_is_retried(harness: Harness) -> None:
    work = await reconcile(harness, gated())
    new_chart_version(harness)
    req = harness.request(gated(), next_work(work))
    planner = FakePlanner([], error="dry run of ConfigMap/apps/app failed: Forbidden")
    with pytest.raises(Retry):
        await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS), planner)
    message = (
        "could not plan the Helm upgrade to approve: dry run of ConfigMap/apps/app failed: "
        "Forbidden"
    )
    assert ready(req.work) == ("False", "PlanFailed", message)
    assert reasons(req.work) == [("Warning", "PlanFailed")]
    assert harness.lib.history("app") == [(1, "deployed")]


async def test_scope_all_holds_the_remediation_of_a_failed_approved_upgrade(
    harness: Harness,
) -> None:
    raw = gated(scope="all", approved="sha256:install-1.0.0")
    work = await reconcile(harness, raw)
    new_chart_version(harness)
    harness.lib.fail["upgrade"] = Failure("Timeout", "wait timed out")
    raw = gated(scope="all", approved="sha256:upgrade-1.1.0")
    raw["spec"]["upgrade"] = {"remediation": {"retries": 1}}
    planner = FakePlanner([])
    req = harness.request(raw, next_work(Work(raw, work.hr)))
    with pytest.raises(Retry):
        await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS), planner)
    assert harness.lib.history("app") == [(1, "deployed"), (2, "failed")]
    req = harness.request(raw, next_work(Work(raw, req.work.hr)))
    await run_atomic(req, inputs.desired(req.work.hr, harness.info, DIGESTS), planner)
    assert planner.asked == [Action.UPGRADE, Action.ROLLBACK]
    assert harness.lib.history("app") == [(1, "deployed"), (2, "failed")], "not rolled back"
    assert ready(req.work)[:2] == ("False", "AwaitingApproval")
    assert ready(req.work)[2].startswith("Helm rollback awaits approval of plan sha256:rollback")


def test_a_drift_plan_recreates_and_patches_with_secrets_masked() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}}
    gone = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}}
    patch = [{"op": "replace", "path": "/data/token", "value": "hunter2"}]
    drifted = [
        (Drift(ChangeType.UPDATE, ObjectRef.of(secret), patch), secret),
        (Drift(ChangeType.CREATE, ObjectRef.of(gone)), gone),
    ]
    plan = drift_plan(drifted)
    assert plan.summary == "+1 ~1 -0"
    assert [(c.action, c.ref) for c in plan.changes] == [
        ("add", "ConfigMap/a/c"),
        ("change", "Secret/a/s"),
    ]
    assert plan.changes[1].diff == '{"op": "replace", "path": "/data/token", "value": "***"}\n'
    assert "hunter2" not in plan.digest
    assert plan.digest == drift_plan(list(reversed(drifted))).digest
