"""RBAC proven by use: the controller, as config/rbac's ServiceAccount without the cluster-admin
binding, installs, tests, upgrades, rolls back, uninstalls and corrects drift from every source
kind, holds its Lease and records its events; a release whose account may not make a kind of
its chart fails Forbidden, and the controller's own rights are not used instead. The last test
reads the API server's audit log: every rule config/rbac grants was used, and nothing the
controller itself asked for was refused.

The tests share one control plane and one controller (conftest.py) and run in file order."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from controller.flags import lease_of
from hack.testkit.paths import REPO_ROOT
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS, HELM_RELEASES, LEASES
from tests.e2e.conftest import Harness
from tests.e2e.test_release import helm_json
from tests.rbac.conftest import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    DEFAULT_ACCOUNT,
    LIMITED_ACCOUNT,
    AuditedPlane,
)

pytestmark = pytest.mark.e2e

RBAC = REPO_ROOT / "config" / "rbac"
Rule = tuple[str, str, str]
"""(API group, resource[/subresource], verb)"""

# What the audit test needs the other tests to have done; each adds its name when it passes.
EXERCISED: set[str] = set()


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == type_)


async def _events(h: Harness, name: str) -> list[client.CoreV1Event]:
    listing = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(listing.items)


async def _reasons(h: Harness, name: str) -> set[str]:
    return {e.reason for e in await _events(h, name)}


async def _exists(h: Harness, path: str) -> bool:
    return await rest.get_optional(h.kube, path) is not None


async def _delete_and_wait_gone(h: Harness, name: str) -> None:
    """Delete the HelmRelease; the controller's finalizer uninstalls it as the tenant."""
    await rest.request(h.kube, "DELETE", HELM_RELEASES.path(h.namespace, name))

    async def gone() -> bool:
        return not await _exists(h, HELM_RELEASES.path(h.namespace, name))

    await eventually(gone, within=60, what=f"{name} finalized")


async def _allowed(h: Harness, verb: str, resource: str, group: str = "") -> bool:
    """Whether the API server lets the controller's account do `verb` in the tenant's
    namespace (a SubjectAccessReview, by the admin)."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": CONTROLLER_USER,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{CONTROLLER_NAMESPACE}"],
            "resourceAttributes": {
                "namespace": h.namespace,
                "verb": verb,
                "resource": resource,
                "group": group,
            },
        },
    }
    path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    answer = await rest.request(h.kube, "POST", path, body=review)
    return bool(answer["status"].get("allowed"))


async def test_the_controller_is_its_account_and_holds_the_lease(harness: Harness) -> None:
    h = harness
    # The controller's kubeconfig carries a token of its account and nothing else.
    assert h.controller is not None
    kubeconfig = _kubeconfig_of(h.controller.pid)
    (user,) = kubeconfig["users"]
    assert set(user["user"]) == {"token"}
    payload = user["user"]["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == CONTROLLER_USER

    # Bound to helmward-manager and the leader-election Role only: it cannot make what the
    # charts contain, so whatever lands was made by the tenant's account.
    bindings = await rest.request(
        h.kube, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    )
    roles = {
        b["roleRef"]["name"]
        for b in bindings["items"]
        for s in b.get("subjects") or []
        if (s.get("namespace"), s["name"]) == (CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    }
    assert roles == {f"{CONTROLLER_ACCOUNT}-manager"}
    for resource in ("configmaps", "pods"):
        assert not await _allowed(h, "create", resource), resource
    assert await _allowed(h, "impersonate", "serviceaccounts")

    # Leader election: the Lease in the controller's namespace ($RUNTIME_NAMESPACE), created
    # by the controller and renewed (PUT) while it leads.
    # No --watch-namespace and no shard: the one unscoped Lease, helmward-leader-election.
    path = LEASES.path(*lease_of(CONTROLLER_NAMESPACE, None, ""))
    first = await eventually(
        lambda: rest.get_optional(h.kube, path), within=30, what="the controller's Lease"
    )
    assert first["spec"]["holderIdentity"]

    async def renewed() -> bool:
        lease = await rest.request(h.kube, "GET", path)
        return bool(lease["spec"]["renewTime"] != first["spec"]["renewTime"])

    await eventually(renewed, within=15, what="the Lease renewed")
    EXERCISED.add("lease")


def _kubeconfig_of(pid: int) -> dict[str, Any]:
    """The kubeconfig the process `pid` was started with (--kubeconfig)."""
    argv = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    return dict(yaml.safe_load(Path(argv[argv.index("--kubeconfig") + 1]).read_text()))


async def test_install_test_upgrade_rollback_and_uninstall_as_the_tenant(harness: Harness) -> None:
    h = harness
    values = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="web-values"), data={"values.yaml": "message: one\n"}
    )
    await client.CoreV1Api(h.kube).create_namespaced_config_map(h.namespace, values)
    spec = {
        **h.chart_spec(version="1.0.0"),
        "test": {"enable": True},
        "upgrade": {"remediation": {"retries": 1}},
        "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}],
    }
    await h.apply_release("web", spec)
    obj = await h.wait("web", "TestSuccess", "True")
    status = obj["status"]
    assert _condition(obj, "Released")["reason"] == "InstallSucceeded"
    assert [(s["version"], s["status"]) for s in status["history"]] == [(1, "deployed")]
    assert status["history"][0]["testHooks"]["web-test"]["phase"] == "Succeeded"
    assert [r["status"] for r in helm_json(h, "history", "web")] == ["deployed"]
    assert (await h.config("web"))["message"] == "one"

    await h.apply_release("web", {**spec, "values": {"message": "two"}})
    obj = await h.wait("web", "Released", "True", reason="UpgradeSucceeded")
    assert obj["status"]["history"][0]["version"] == 2
    assert (await h.config("web"))["message"] == "two"

    # The new values make the test pod fail: the upgrade is rolled back to revision 2.
    await h.apply_release("web", {**spec, "values": {"message": "bad", "failTest": True}})
    obj = await h.wait("web", "Remediated", "True", reason="RollbackSucceeded", within=120)
    assert _condition(obj, "Ready")["status"] == "False"
    history = helm_json(h, "history", "web")
    # Revision 3 deployed (its test failed after), then superseded by the rollback.
    assert [r["status"] for r in history] == ["superseded"] * 3 + ["deployed"]
    assert history[-1]["description"] == "Rollback to 2"
    assert (await h.config("web"))["message"] == "two"

    # The controller recorded each step as a core v1 Event.
    events = await _events(h, "web")
    assert {e.source.component for e in events} == {"helmward"}
    wanted = {"InstallSucceeded", "TestSucceeded", "UpgradeSucceeded", "TestFailed"}
    assert wanted | {"RollbackSucceeded"} <= {e.reason for e in events}

    await _delete_and_wait_gone(h, "web")
    assert helm_json(h, "list") == []
    assert not await _exists(h, f"/api/v1/namespaces/{h.namespace}/configmaps/web-config")
    assert not await _exists(h, HELM_CHARTS.path(h.namespace, f"{h.namespace}-web"))
    EXERCISED.add("lifecycle")


SOURCES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "GitRepository": (
        {
            "chart": {
                "spec": {
                    "chart": "charts/gitdemo-2.0.0",
                    "sourceRef": {"kind": "GitRepository", "name": "git"},
                }
            }
        },
        ("gitdemo", "2.0.0"),
    ),
    "Bucket": (
        {
            "chart": {
                "spec": {"chart": "bucketdemo", "sourceRef": {"kind": "Bucket", "name": "bucket"}}
            }
        },
        ("bucketdemo", "3.0.0"),
    ),
    "HelmRepository-oci": (
        {
            "chart": {
                "spec": {"chart": "ocidemo", "sourceRef": {"kind": "HelmRepository", "name": "oci"}}
            }
        },
        ("ocidemo", "4.0.0"),
    ),
    "OCIRepository": (
        {"chartRef": {"kind": "OCIRepository", "name": "ocidemo"}},
        ("ocidemo", "4.0.0"),
    ),
}


@pytest.mark.parametrize("kind", list(SOURCES))
async def test_a_release_from_each_source_kind(harness: Harness, kind: str) -> None:
    h = harness
    source, (chart, version) = SOURCES[kind]
    name = kind.lower()
    await h.apply_release(name, {**source, "interval": "5m"})
    obj = await h.wait(name, "Ready", "True", within=120)
    assert _condition(obj, "Released")["reason"] == "InstallSucceeded"
    (snapshot,) = obj["status"]["history"]
    assert (snapshot["chartName"], snapshot["chartVersion"], snapshot["version"]) == (
        chart,
        version,
        1,
    )
    assert (await h.config(name))["chartVersion"] == version
    await _delete_and_wait_gone(h, name)
    EXERCISED.add(kind)


CHART_SOURCE_KINDS = ("HelmRepository", "GitRepository", "Bucket")
"""The kinds a HelmChart is built from, read by name when the cache lacks them."""


@pytest.mark.parametrize("kind", CHART_SOURCE_KINDS)
async def test_a_chart_whose_source_is_missing_says_so(harness: Harness, kind: str) -> None:
    h = harness
    name = f"no-{kind.lower()}"
    ref = {"kind": kind, "name": "absent"}
    spec = {"chart": {"spec": {"chart": "demo", "sourceRef": ref}}, "interval": "5m"}
    await h.apply_release(name, spec)
    obj = await h.wait(name, "Ready", "False", reason="SourceNotReady")
    assert _condition(obj, "Ready")["message"] == (
        f"HelmChart '{h.namespace}/{h.namespace}-{name}' is not ready: "
        f"failed to get source: {kind} '{h.namespace}/absent' not found"
    )
    await _delete_and_wait_gone(h, name)
    EXERCISED.add(f"missing {kind}")


async def test_drift_is_corrected_as_the_tenant(harness: Harness) -> None:
    h = harness
    spec = {
        **h.chart_spec(version="1.0.0"),
        "values": {"message": "desired"},
        "driftDetection": {"mode": "enabled"},
    }
    await h.apply_release("drifty", spec)
    await h.wait("drifty", "Drifted", "False", reason="NoDriftDetected")
    await h.tamper("drifty")
    await h.request_reconcile("drifty", "t1")

    async def corrected() -> bool:
        return (await h.config("drifty"))["message"] == "desired"

    await eventually(corrected, within=60, what="drift corrected")
    # The same drift again: the same events, each recorded once with its count bumped (the
    # Event is read and patched).
    await h.tamper("drifty")
    await h.request_reconcile("drifty", "t2")
    await eventually(corrected, within=60, what="drift corrected again")
    obj = await h.get("drifty")
    assert [s["version"] for s in obj["status"]["history"]] == [1], "no new Helm revision"

    async def counted() -> dict[str, int] | None:
        counts = {e.reason: e.count for e in await _events(h, "drifty") if "Drift" in e.reason}
        return counts if counts == {"DriftDetected": 2, "DriftCorrected": 2} else None

    await eventually(counted, within=30, what="one DriftDetected and one DriftCorrected, twice")
    await _delete_and_wait_gone(h, "drifty")
    EXERCISED.add("drift")


async def test_a_kind_the_account_may_not_make_is_forbidden_not_made(harness: Harness) -> None:
    h = harness
    spec = {**h.chart_spec("smuggler", "1.0.0"), "serviceAccountName": LIMITED_ACCOUNT}
    await h.apply_release("smuggler", spec)
    obj = await h.wait("smuggler", "Ready", "False", reason="InstallFailed")
    message = _condition(obj, "Ready")["message"]
    user = f'User "system:serviceaccount:{h.namespace}:{LIMITED_ACCOUNT}"'
    for text in (
        'helmcharts.source.toolkit.fluxcd.io "smuggler-smuggled" is forbidden',
        f'{user} cannot get resource "helmcharts" in API group "source.toolkit.fluxcd.io"',
    ):
        assert text in message, message
    # The controller's ClusterRole may create HelmCharts; it did not make this one, and Helm
    # stored no release.
    assert not await _exists(h, HELM_CHARTS.path(h.namespace, "smuggler-smuggled"))
    assert obj["status"]["history"] == []
    assert helm_json(h, "list") == []
    assert "InstallFailed" in await _reasons(h, "smuggler")
    # Suspended, so it stops retrying; the plane goes with the module.
    await h.apply_release("smuggler", {**spec, "suspend": True})
    EXERCISED.add("forbidden")


# ------------------------------------------------------------------------------ the audit log


def granted() -> set[Rule]:
    """Every (group, resource, verb) config/rbac grants the controller: the ClusterRole
    helmward-manager and the leader-election Role."""
    rules = set()
    for file in ("role.yaml", "leader_election_role.yaml"):
        for rule in yaml.safe_load((RBAC / file).read_text())["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    rules |= {(group, resource, verb) for verb in rule["verbs"]}
    return rules


def audit_events(log: Path) -> list[dict[str, Any]]:
    """One event per request of the controller's account (a request's last stage)."""
    last: dict[str, dict[str, Any]] = {}
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["user"]["username"] == CONTROLLER_USER:
            last[event["auditID"]] = event
    return list(last.values())


def usage(events: list[dict[str, Any]]) -> tuple[Counter[Rule], list[dict[str, Any]]]:
    """How often the controller used each rule, and the requests refused. A request made as
    another account uses `impersonate` (its own rule is that account's); a server-side apply
    that created its object (201) used `create` besides `patch`, as the API server checks both.
    Discovery (non-resource URLs) is everyone's and not counted."""
    used: Counter[Rule] = Counter()
    refused = []
    for event in events:
        code = event.get("responseStatus", {}).get("code", 0)
        ref = event.get("objectRef") or {}
        if code == 403:
            refused.append(event)
        if event.get("impersonatedUser"):
            used["", "serviceaccounts", "impersonate"] += 1
        elif code != 403 and "resource" in ref:
            resource = ref["resource"] + (f"/{ref['subresource']}" if "subresource" in ref else "")
            used[ref.get("apiGroup", ""), resource, event["verb"]] += 1
            if event["verb"] == "patch" and code == 201:
                used[ref.get("apiGroup", ""), resource, "create"] += 1
    return used, refused


async def test_every_granted_rule_is_used_and_nothing_the_controller_asked_was_refused(
    harness: Harness, audited_plane: AuditedPlane
) -> None:
    wanted = {"lease", "lifecycle", "drift", "forbidden", *SOURCES}
    wanted |= {f"missing {kind}" for kind in CHART_SOURCE_KINDS}
    missing = wanted - EXERCISED
    if missing:
        pytest.skip(f"needs the module's other tests to have passed first: {sorted(missing)}")
    events = audit_events(audited_plane.audit_log)
    used, refused = usage(events)
    rules = granted()
    width = max(len("/".join(r)) for r in rules)
    print(f"\n{'rule (group/resource/verb)':<{width}}  requests")
    for rule in sorted(rules):
        print(f"{'/'.join(rule):<{width}}  {used[rule]}")
    print(f"{len(events)} requests of {CONTROLLER_USER} audited")

    assert sorted(r for r in rules if not used[r]) == [], "granted, never used"
    assert sorted(set(used) - rules) == [], "used, granted only by the cluster's defaults"

    # Refused: only what the limited account asked for the smuggled HelmChart.
    def expected(event: dict[str, Any]) -> bool:
        ref = event.get("objectRef") or {}
        user = event.get("impersonatedUser", {}).get("username")
        limited = f"system:serviceaccount:{harness.namespace}:{LIMITED_ACCOUNT}"
        return user == limited and ref.get("resource") == "helmcharts"

    unexpected = [
        (e.get("impersonatedUser", {}).get("username"), e["verb"], e["requestURI"])
        for e in refused
        if not expected(e)
    ]
    assert unexpected == []
    assert any(expected(e) for e in refused), "the Forbidden case was audited"
    # The controller never touched the smuggled HelmChart as itself.
    mine = [
        e["requestURI"]
        for e in events
        if not e.get("impersonatedUser")
        and (e.get("objectRef") or {}).get("name") == "smuggler-smuggled"
    ]
    assert mine == []
    # Releases acted as the tenant's accounts; as itself the controller asked only for what
    # its rules name (above), none of which makes what a chart holds.
    accounts = {
        e["impersonatedUser"]["username"].rsplit(":", 1)[1]
        for e in events
        if e.get("impersonatedUser")
    }
    assert accounts == {DEFAULT_ACCOUNT, LIMITED_ACCOUNT}
