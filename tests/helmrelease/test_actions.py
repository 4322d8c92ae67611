"""Each action reconciler on its own, against the fake engine: what it stores, and what it
says on the status and in events."""

from __future__ import annotations

import pytest

from api.digests import digest
from api.helmrelease import ResourceRef
from controller.helmrelease.actions import (
    RECONCILERS,
    install,
    rollback,
    test,
    uninstall,
    unlock,
    upgrade,
)
from controller.helmrelease.work import Event
from internal.release.actions import ACTIONS, Action, ActionFamily
from tests.helmrelease.conftest import Harness, release_object
from tests.helmrelease.fakeengine import Failure

INSTALLED = "Helm install succeeded for release apps/app with chart app@1.0.0"


def conditions(req: object) -> dict[str, tuple[str, str]]:
    status = req.work.status  # type: ignore[attr-defined]
    return {c.type: (c.status.value, c.reason) for c in status.conditions or []}


async def test_install_stores_one_revision_and_reports_success(harness: Harness) -> None:
    req = harness.request(release_object())
    assert await install.reconcile(req) is False
    status = req.work.status
    assert harness.lib.history("app") == [(1, "deployed")]
    assert [(s.version, s.status, s.action) for s in status.history or []] == [
        (1, "deployed", "install")
    ]
    assert status.history[0].config_digest == digest({"replicas": 1})  # type: ignore[index]
    assert conditions(req) == {
        "Released": ("True", "InstallSucceeded"),
        "Reconciling": ("True", "Progressing"),
        "Ready": ("Unknown", "Progressing"),
    }
    assert req.work.events == [Event("Normal", "InstallSucceeded", INSTALLED)]
    assert status.last_attempted_release_action == "install"
    assert (status.failures, status.install_failures) == (None, None)
    assert status.inventory is not None
    assert status.inventory.entries == [ResourceRef(id="apps_app__ConfigMap", v="v1")]
    progress = harness.writer.writes[0]["conditions"]
    assert [(c["type"], c["status"]) for c in progress] == [
        ("Ready", "Unknown"),
        ("Reconciling", "True"),
    ]


async def test_a_stored_install_failure_counts_against_install(harness: Harness) -> None:
    harness.lib.fail["install"] = Failure("Timeout", "context deadline exceeded")
    req = harness.request(release_object())
    assert await install.reconcile(req) is True
    status = req.work.status
    assert harness.lib.history("app") == [(1, "failed")]
    assert conditions(req)["Released"] == ("False", "InstallFailed")
    [event] = req.work.events
    assert (event.type, event.reason) == ("Warning", "InstallFailed")
    assert "context deadline exceeded" in event.message
    assert (status.failures, status.install_failures) == (1, 1)


async def test_an_install_that_stored_nothing_counts_only_in_failures(harness: Harness) -> None:
    harness.lib.fail["install"] = Failure("RenderFailed", "bad template", store=False)
    req = harness.request(release_object())
    assert await install.reconcile(req) is True
    assert harness.lib.history("app") == []
    assert (req.work.status.failures, req.work.status.install_failures) == (1, None)


async def test_upgrade_supersedes_and_drops_stale_test_results(harness: Harness) -> None:
    req = harness.request(release_object())
    await install.reconcile(req)
    req.work.condition("TestSuccess", "True", "TestSucceeded", "old")
    assert await upgrade.reconcile(req) is False
    assert harness.lib.history("app") == [(1, "superseded"), (2, "deployed")]
    status = req.work.status
    assert [(s.version, s.status) for s in status.history or []] == [
        (2, "deployed"),
        (1, "superseded"),
    ]
    assert status.history[1].action == "install"  # type: ignore[index]
    assert "TestSuccess" not in conditions(req)
    assert conditions(req)["Released"] == ("True", "UpgradeSucceeded")
    assert status.last_attempted_release_action == "upgrade"


async def test_a_failed_hook_fails_test_success_without_counting(harness: Harness) -> None:
    harness.lib.tests = [("smoke", "Failed")]
    req = harness.request(release_object(test={"enable": True}))
    await install.reconcile(req)
    assert await test.reconcile(req) is False
    assert conditions(req)["TestSuccess"] == ("False", "TestFailed")
    hooks = req.work.status.history[0].test_hooks  # type: ignore[index]
    assert {n: h.phase for n, h in (hooks or {}).items() if h} == {"smoke": "Failed"}
    assert req.work.events[-1] == Event("Warning", "TestFailed", "Helm test failed: ['smoke']")
    assert req.work.status.failures is None


@pytest.mark.parametrize(("ignore", "counted"), [(False, 1), (True, None)])
async def test_a_test_error_counts_against_the_release_action(
    harness: Harness, ignore: bool, counted: int | None
) -> None:
    req = harness.request(release_object(test={"enable": True, "ignoreFailures": ignore}))
    await install.reconcile(req)
    harness.lib.fail["test"] = Failure("HookFailed", "pod smoke failed")
    assert await test.reconcile(req) is True
    assert (req.work.status.failures, req.work.status.install_failures) == (1, counted)
    assert conditions(req)["TestSuccess"] == ("False", "TestFailed")


async def test_rollback_returns_to_the_previous_good_release(harness: Harness) -> None:
    req = harness.request(release_object())
    await install.reconcile(req)
    harness.lib.fail["upgrade"] = Failure("Timeout", "wait timed out")
    assert await upgrade.reconcile(req) is True
    assert await rollback.reconcile(req) is False
    assert harness.lib.history("app") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert req.work.status.history[0].action == "rollback"  # type: ignore[index]
    assert conditions(req)["Remediated"] == ("True", "RollbackSucceeded")
    assert req.work.status.upgrade_failures == 1


async def test_uninstall_remediation_empties_storage_and_inventory(harness: Harness) -> None:
    req = harness.request(release_object())
    await install.reconcile(req)
    assert await uninstall.reconcile(req) is False
    assert harness.lib.history("app") == []
    assert req.work.status.inventory is None
    assert conditions(req)["Remediated"] == ("True", "UninstallSucceeded")


def test_every_action_has_its_facts_and_every_helm_action_a_reconciler() -> None:
    assert set(ACTIONS) == set(Action)
    helm_actions = {
        a for a, spec in ACTIONS.items() if spec.family not in (None, ActionFamily.DRIFT)
    }
    assert helm_actions == set(RECONCILERS)
    for action in RECONCILERS:
        assert ACTIONS[action].condition is not None, action


async def test_unlock_marks_the_pending_release_failed_and_refreshes_its_snapshot(
    harness: Harness,
) -> None:
    req = harness.request(release_object())
    await install.reconcile(req)
    await req.mgr.sync(1)  # what the install wrote, as the engine's observer saw it
    harness.lib.releases[("app", 1)]["status"] = "pending-upgrade"
    await req.mgr.sync(1)  # storage again
    assert await unlock.reconcile(req) is False
    assert harness.lib.history("app") == [(1, "failed")]
    [snap] = req.work.status.history or []
    assert (snap.status, snap.action) == ("failed", "install"), "the action that made it stays"
    assert snap.digest == harness.lib.releases[("app", 1)]["digest"]
    assert conditions(req)["Released"] == ("False", "PendingRelease")
    assert req.work.events[-1] == Event(
        "Normal", "PendingRelease", "Unlocked release left in 'pending-upgrade'"
    )


async def test_the_look_after_an_action_takes_what_it_wrote_without_reading_it_back(
    harness: Harness,
) -> None:
    req = harness.request(release_object())
    await install.reconcile(req)
    calls = len(harness.lib.calls)
    await req.mgr.sync(1)
    assert harness.lib.calls[calls:] == []
    stored = req.mgr.stored()
    assert stored is not None
    assert (stored.version, stored.status) == (1, "deployed")
    assert stored.digest == harness.lib.releases[("app", 1)]["digest"]
    await req.mgr.sync(1)
    assert harness.lib.calls[calls:] == ["get", "get"], "the next look reads storage"
