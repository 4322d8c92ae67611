"""The approval gate end to end: `helmward run` against the local control plane, one controller
for the module. A change waits with no Helm revision made, Ready=False AwaitingApproval naming
the plan, one Normal event per plan; an approval of an older plan is refused (a Warning); the
approval `helmward approve` sets is honoured with exactly one new revision; `approval-scope:
all` holds a first install."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from hack.testkit.charts import write_message_chart
from hack.testkit.paths import REPO_ROOT
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.e2e.conftest import Harness, running_harness

pytestmark = pytest.mark.e2e

REQUIRED = {"helmward.io/approval": "required"}
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture(scope="module")
async def gate(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    flux_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Harness]:
    """One namespace, chart repository and controller for every test of the module."""
    core = client.CoreV1Api(kube)
    namespace = f"t-approval-{uuid.uuid4().hex[:6]}"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    tmp = tmp_path_factory.mktemp("approval")
    charts = [write_message_chart(tmp / "src", "demo", "1.0.0")]
    try:
        async with running_harness(control_plane, kube, namespace, tmp, charts) as h:
            yield h
    finally:
        await core.delete_namespace(namespace)


async def apply(h: Harness, name: str, message: str, annotations: dict[str, str]) -> None:
    """The HelmRelease with its annotations, as a GitOps tool would apply it."""
    body = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": h.namespace, "annotations": annotations},
        "spec": {**h.chart_spec("demo", "1.0.0"), "values": {"message": message}},
    }
    await rest.request(
        h.kube,
        "PATCH",
        HELM_RELEASES.path(h.namespace, name),
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "e2e", "force": True},
    )


async def annotate(h: Harness, name: str, annotations: dict[str, str]) -> None:
    await rest.request(
        h.kube,
        "PATCH",
        HELM_RELEASES.path(h.namespace, name),
        body={"metadata": {"annotations": annotations}},
        content_type=rest.MERGE_PATCH,
    )


async def revisions(h: Harness, name: str) -> list[str]:
    """The release's Helm storage Secrets."""
    listed = await client.CoreV1Api(h.kube).list_namespaced_secret(
        h.namespace, label_selector=f"owner=helm,name={name}"
    )
    return sorted(s.metadata.name for s in listed.items)


async def events(h: Harness, name: str, reason: str) -> list[tuple[str, str, int]]:
    listed = await client.CoreV1Api(h.kube).list_namespaced_event(
        h.namespace, field_selector=f"involvedObject.name={name}"
    )
    return [(e.type, e.message, e.count or 1) for e in listed.items if e.reason == reason]


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


async def awaiting(h: Harness, name: str, *, unlike: str = "", says: str = "") -> str:
    """Ready's message once the release awaits approval of a plan other than `unlike`, and
    the message has `says` in it."""

    async def probe() -> str | None:
        c = ready(await h.wait(name, "Ready", "False", reason="AwaitingApproval"))
        message = str(c["message"])
        fresh = not unlike or unlike not in message
        return message if fresh and says in message else None

    return await eventually(probe, within=60, what=f"{name} awaiting approval")


async def reconciled(h: Harness, name: str) -> None:
    """A reconcile requested and handled, as `flux reconcile` asks for one."""
    token = uuid.uuid4().hex

    async def handled() -> bool:
        return (await h.get(name)).get("status", {}).get("lastHandledReconcileAt") == token

    await h.request_reconcile(name, token)
    await eventually(handled, within=30, what=f"{name} reconciled for {token}")


async def helmward(h: Harness, *args: str) -> tuple[int, str, str]:
    """`helmward ARGS` against the test's cluster and namespace, with no terminal."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        *args,
        "-n",
        h.namespace,
        "--kubeconfig",
        str(h.kubeconfig),
        cwd=Path(REPO_ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def plan_message(h: Harness, digest: str, summary: str, name: str, action: str = "upgrade") -> str:
    return (
        f"Helm {action} awaits approval of plan {digest} ({summary}) for release "
        f"{h.namespace}/{name} with chart demo@1.0.0; approve it with "
        f"'helmward approve -n {h.namespace} {name}'"
    )


async def test_an_upgrade_waits_and_only_its_own_approval_releases_it(gate: Harness) -> None:
    h, name = gate, "gated"
    await apply(h, name, "one", REQUIRED)
    await h.wait(name, "Ready", "True", reason="InstallSucceeded")  # upgrades scope: installs
    assert await revisions(h, name) == [f"sh.helm.release.v1.{name}.v1"]

    await apply(h, name, "two", REQUIRED)
    message = await awaiting(h, name)
    first = DIGEST.findall(message)[0]
    assert message == plan_message(h, first, "+0 ~1 -0", name)
    await reconciled(h, name)  # waiting again: the same plan, no second event
    assert ready(await h.get(name))["message"] == message
    assert await events(h, name, "AwaitingApproval") == [("Normal", message, 1)]
    assert len(await revisions(h, name)) == 1, "no Helm revision while waiting"

    await apply(h, name, "three", REQUIRED)
    newer = await awaiting(h, name, unlike=first)
    second = DIGEST.findall(newer)[0]
    assert newer == plan_message(h, second, "+0 ~1 -0", name)
    await annotate(h, name, {"helmward.io/approved": first})  # the older plan's digest
    void = f"; approval {first} is void: it approves another plan"
    assert await awaiting(h, name, says=void) == newer + void
    refused = (
        f"Approval {first} refused: the plan waiting for approval is {second} (+0 ~1 -0); "
        "a newer change voids an older approval"
    )
    await eventually(
        lambda: _has(events(h, name, "ApprovalRefused"), [("Warning", refused, 1)]),
        within=30,
        what="the ApprovalRefused event",
    )
    assert len(await revisions(h, name)) == 1, "a stale approval makes no revision"
    assert (await h.config(name))["message"] == "one"

    code, out, err = await helmward(h, "approve", name)
    assert (code, "not approved: pass --yes" in err) == (2, True), (out, err)
    code, out, err = await helmward(h, "approve", name, "--yes")
    assert code == 0, (out, err)
    assert f"  plan     {second}\n  summary  +0 ~1 -0\n" in out
    assert f"approved: helmward.io/approved={second}" in err
    # The diff as `helmward diff` shows it, made by the CLI: the very plan the controller made.
    assert f"upgrade demo 1.0.0: +0 ~1 -0 ({second})" in out, out
    assert "note:" not in err, err

    obj = await h.wait(name, "Ready", "True", reason="UpgradeSucceeded")
    assert ready(obj)["message"] == (
        f"Helm upgrade succeeded for release {h.namespace}/{name} with chart demo@1.0.0"
    )
    assert await revisions(h, name) == [
        f"sh.helm.release.v1.{name}.v1",
        f"sh.helm.release.v1.{name}.v2",
    ]
    assert (await h.config(name))["message"] == "three"
    approved = f"Plan {second} (+0 ~1 -0) approved: running Helm upgrade for release "
    assert [(t, m[: len(approved)]) for t, m, _ in await events(h, name, "PlanApproved")] == [
        ("Normal", approved)
    ]
    code, _, err = await helmward(h, "approve", name, "--yes")
    assert code == 1, "nothing awaits approval once it ran"
    assert "no plan of HelmRelease" in err


async def test_scope_all_holds_a_first_install(gate: Harness) -> None:
    h, name = gate, "held"
    await apply(h, name, "one", {**REQUIRED, "helmward.io/approval-scope": "all"})
    message = await awaiting(h, name)
    digest = DIGEST.findall(message)[0]
    assert message == plan_message(h, digest, "+1 ~0 -0", name, "install")
    assert await events(h, name, "AwaitingApproval") == [("Normal", message, 1)]
    assert await revisions(h, name) == [], "nothing installed while waiting"

    await annotate(h, name, {"helmward.io/approved": digest})
    await h.wait(name, "Ready", "True", reason="InstallSucceeded")
    assert await revisions(h, name) == [f"sh.helm.release.v1.{name}.v1"]


async def _has(found: Any, want: list[tuple[str, str, int]]) -> bool:
    return bool(await found == want)
