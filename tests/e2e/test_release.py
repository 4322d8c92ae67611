"""HelmReleases end to end: install, upgrade on values, test failure remediation, deletion."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


def helm_json(h: Harness, *args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [str(h.helm), *args, "-n", h.namespace, "-o", "json", "--kubeconfig", str(h.kubeconfig)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


async def test_install_then_upgrade_on_values_change(harness: Harness) -> None:
    h = harness
    await h.apply_release("web", {**h.chart_spec(version="1.0.0"), "values": {"message": "one"}})
    obj = await h.wait("web", "Ready", "True")
    status = obj["status"]
    released = next(c for c in status["conditions"] if c["type"] == "Released")
    assert released["reason"] == "InstallSucceeded"
    assert status["history"][0]["status"] == "deployed"
    assert status["history"][0]["chartVersion"] == "1.0.0"
    assert status["lastAttemptedReleaseAction"] == "install"
    assert (await h.config("web"))["message"] == "one"
    releases = helm_json(h, "list")
    assert [(r["name"], r["status"]) for r in releases] == [("web", "deployed")]
    series = [
        line
        for line in (await h.metrics()).splitlines()
        if line.startswith("gotk_reconcile_condition{") and 'name="web"' in line
    ]
    assert len(series) == 9, series
    labels = f'kind="HelmRelease",name="web",namespace="{h.namespace}"'
    assert f'gotk_reconcile_condition{{{labels},status="True",type="Ready"}} 1.0' in series
    assert f'gotk_reconcile_condition{{{labels},status="Unknown",type="Stalled"}} 1.0' in series

    await h.apply_release("web", {**h.chart_spec(version="1.0.0"), "values": {"message": "two"}})
    obj = await h.wait("web", "Released", "True", reason="UpgradeSucceeded")
    assert obj["status"]["history"][0]["version"] == 2
    assert (await h.config("web"))["message"] == "two"
    history = helm_json(h, "history", "web")
    assert [r["status"] for r in history] == ["superseded", "deployed"]


async def test_failing_test_hook_rolls_back(harness: Harness) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "test": {"enable": True},
        "upgrade": {"remediation": {"retries": 1}},
        "values": {"message": "good"},
    }
    await h.apply_release("app", spec)
    obj = await h.wait("app", "TestSuccess", "True")
    assert obj["status"]["history"][0]["testHooks"]["app-test"]["phase"] == "Succeeded"

    # The new values make the test pod carry the KWOK failure label: the test fails.
    await h.apply_release("app", {**spec, "values": {"message": "bad", "failTest": True}})
    obj = await h.wait("app", "Remediated", "True", reason="RollbackSucceeded", within=120)
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    history = helm_json(h, "history", "app")
    assert [r["status"] for r in history][-1] == "deployed"
    assert history[-1]["description"].startswith("Rollback to 1")
    assert (await h.config("app"))["message"] == "good"


async def test_failing_test_hook_uninstalls_with_the_uninstall_strategy(harness: Harness) -> None:
    from kubernetes_asyncio import client

    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "test": {"enable": True},
        "upgrade": {"remediation": {"retries": 1, "strategy": "uninstall"}},
        "values": {"message": "good"},
    }
    await h.apply_release("gone", spec)
    await h.wait("gone", "TestSuccess", "True")

    # The upgrade's test fails: the release is uninstalled, then installed afresh, whose test
    # fails again with no install retries left: Stalled.
    await h.apply_release("gone", {**spec, "values": {"message": "bad", "failTest": True}})
    obj = await h.wait("gone", "Stalled", "True", reason="RetriesExceeded", within=180)
    assert obj["status"]["lastAttemptedReleaseAction"] == "install"
    history = helm_json(h, "history", "gone")
    assert [r["description"] for r in history] == ["Install complete"], history
    events = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector="involvedObject.name=gone"
    )
    reasons = {e.reason for e in events.items}
    assert {"UpgradeSucceeded", "TestFailed", "UninstallSucceeded"} <= reasons, reasons


async def test_depends_on_installs_in_order_and_a_cycle_is_named(harness: Harness) -> None:
    h = harness
    # c -> b -> a, applied in reverse so the controller must wait.
    for name, deps in (("c", ["b"]), ("b", ["a"]), ("a", [])):
        await h.apply_release(
            name, {**h.chart_spec(version="1.0.0"), "dependsOn": [{"name": d} for d in deps]}
        )
    objs = {n: await h.wait(n, "Ready", "True", within=120) for n in ("a", "b", "c")}
    deployed = {n: o["status"]["history"][0]["firstDeployed"] for n, o in objs.items()}
    assert deployed["a"] <= deployed["b"] <= deployed["c"], deployed

    await h.apply_release("x", {**h.chart_spec(), "dependsOn": [{"name": "y"}]})
    await h.apply_release("y", {**h.chart_spec(), "dependsOn": [{"name": "x"}]})
    for name in ("x", "y"):
        obj = await h.wait(name, "Ready", "False", reason="DependencyCycle")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert f"{h.namespace}/x -> {h.namespace}/y -> {h.namespace}/x" in ready["message"]


async def test_missing_dependency_is_named(harness: Harness) -> None:
    h = harness
    await h.apply_release("lonely", {**h.chart_spec(), "dependsOn": [{"name": "ghost"}]})
    obj = await h.wait("lonely", "Ready", "False", reason="DependencyNotReady")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert f"'{h.namespace}/ghost' not found" in ready["message"]


async def test_deletion_uninstalls_and_suspend_pauses(harness: Harness) -> None:
    h = harness
    await h.apply_release("tmp", {**h.chart_spec(version="1.0.0"), "values": {"message": "a"}})
    await h.wait("tmp", "Ready", "True")
    await h.apply_release(
        "tmp", {**h.chart_spec(version="1.0.0"), "values": {"message": "b"}, "suspend": True}
    )
    import asyncio

    await asyncio.sleep(3)
    assert (await h.config("tmp"))["message"] == "a", "a suspended release must not upgrade"
    await h.apply_release("tmp", {**h.chart_spec(version="1.0.0"), "values": {"message": "b"}})
    await h.wait("tmp", "Released", "True", reason="UpgradeSucceeded")
    assert (await h.config("tmp"))["message"] == "b"

    from hack.testkit.wait import eventually
    from internal.kube import rest
    from internal.kube.resources import HELM_RELEASES

    await rest.request(h.kube, "DELETE", HELM_RELEASES.path(h.namespace, "tmp"))

    async def uninstalled() -> bool:
        return not helm_json(h, "list")

    await eventually(uninstalled, within=60, what="release uninstalled")


async def test_values_from_edit_upgrades(harness: Harness) -> None:
    from kubernetes_asyncio import client

    h = harness
    core = client.CoreV1Api(h.kube)
    cm = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="app-values"), data={"values.yaml": "message: first\n"}
    )
    await core.create_namespaced_config_map(h.namespace, cm)
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="app-secret"), string_data={"msg": "from-secret"}
    )
    await core.create_namespaced_secret(h.namespace, secret)
    spec = {
        **h.chart_spec(version="1.0.0"),
        "valuesFrom": [{"kind": "ConfigMap", "name": "app-values"}],
    }
    await h.apply_release("vf", spec)
    await h.wait("vf", "Ready", "True")
    assert (await h.config("vf"))["message"] == "first"

    # An edit of the referenced ConfigMap alone triggers the upgrade: the interval is 5m.
    cm.data = {"values.yaml": "message: second\n"}
    await core.replace_namespaced_config_map("app-values", h.namespace, cm)
    obj = await h.wait("vf", "Released", "True", reason="UpgradeSucceeded", within=60)
    assert obj["status"]["history"][0]["version"] == 2
    assert (await h.config("vf"))["message"] == "second"

    # A Secret key set at a target path, then edited.
    spec["valuesFrom"] = [
        *spec["valuesFrom"],
        {"kind": "Secret", "name": "app-secret", "valuesKey": "msg", "targetPath": "message"},
    ]
    await h.apply_release("vf", spec)
    from hack.testkit.wait import eventually

    async def secret_applied() -> bool:
        return (await h.config("vf"))["message"] == "from-secret"

    await eventually(secret_applied, within=60, what="secret value applied")
    secret.string_data = {"msg": "rotated"}
    await core.replace_namespaced_secret("app-secret", h.namespace, secret)

    async def rotated() -> bool:
        return (await h.config("vf"))["message"] == "rotated"

    await eventually(rotated, within=60, what="secret edit applied")
    obj = await h.get("vf")
    assert "rotated" not in json.dumps(obj["status"]), "secret values must not reach status"
