"""`helmward why` against each cause of its chain, staged on the local control plane with one
real controller and one namespace for the module. Every release is applied at the start, so
they all converge at once; each test then asks `why` until its first line is the expected one
(the state it explains is reached through the controller, not written by the test) and checks
that line exactly, and the evidence for some.

The stagings: `paused` suspended; `orphan` from a HelmRepository that does not exist and
`unreachable` from one whose fetch fails; `lost`, whose HelmChart's artifact file is removed
from storage before the release fetches it; `top` -> `middle` -> `paused` by dependsOn; `ping`
<-> `pong`; `pending`, whose post-install hook never completes (storage stays pending-install
while Helm waits); `novalues` from a Secret that does not exist; `tested`, whose test pod fails
(KWOK's failure label), and `hooked`, whose post-install hook pod exits 3; `unhealthy`, whose
ConfigMap its healthCheckExprs calls failed; `exhausted`, whose failed test is remediated by an
uninstall with no retries left; `fine`, Ready."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from controller.cli.session import Session
from controller.cli.why import PODS, explain
from hack.testkit.charts import CONFIGMAP, make_chart, write_message_chart
from hack.testkit.kube import create_helm_repository
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS, HELM_REPOSITORIES
from tests.cli.conftest import Run, run_cli, wait_ready
from tests.e2e.conftest import Harness, running_harness

pytestmark = pytest.mark.e2e

HOOK = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install
    kwok.helmward.io/exit-code: "3"
  labels:
    kwok.helmward.io/fail: "true"
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: busybox:1.36
"""

CHECKS = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "current": "data.message == 'healthy'",
        "failed": "data.message == 'broken'",
    }
]


@dataclass
class Stage:
    h: Harness

    @property
    def ns(self) -> str:
        return self.h.namespace

    async def why(self, name: str, *flags: str) -> Run:
        return await run_cli(
            "why", name, "-n", self.ns, "--kubeconfig", str(self.h.kubeconfig), *flags
        )

    async def expect(self, name: str, first: str, within: float = 90) -> list[str]:
        """`why name` until its first line is `first`; its lines. Exit code 1 (a cause)."""
        seen: list[str] = []

        async def probe() -> list[str] | None:
            nonlocal seen
            r = await self.why(name)
            seen = r.out.splitlines()
            if seen and seen[0] == first:
                assert (r.code, r.err) == (1, ""), r
                return seen
            return None

        try:
            return await eventually(probe, within=within, interval=0.5, what=first)
        except AssertionError:
            raise AssertionError(
                "\n".join(["expected first line:", first, "got:", *seen])
            ) from None


def _chart(root: Path) -> list[Path]:
    return [
        write_message_chart(root, "demo", "1.0.0", test_hook=True),
        write_message_chart(root, "lost", "1.0.0"),
        make_chart(
            root,
            "hooked",
            version="1.0.0",
            templates={"configmap.yaml": CONFIGMAP, "hook.yaml": HOOK},
        ),
    ]


def spec(h: Harness, chart: str = "demo", **extra: Any) -> dict[str, Any]:
    return {**h.chart_spec(chart=chart, version="1.0.0"), **extra}


@pytest.fixture(scope="module")
async def stage(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    cli_namespace: str,
    flux_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stage]:
    tmp = tmp_path_factory.mktemp("why")
    async with running_harness(control_plane, kube, cli_namespace, tmp, _chart(tmp / "src")) as h:
        await create_helm_repository(kube, h.namespace, "http://127.0.0.1:1", name="down")
        await wait_ready(h, HELM_REPOSITORIES, "charts")
        await _lose_an_artifact(h, tmp / "data")
        failing_test = {"test": {"enable": True}, "values": {"failTest": True}}
        releases: dict[str, dict[str, Any]] = {
            "paused": spec(h, suspend=True),
            "orphan": _from(h, "nowhere"),
            "unreachable": _from(h, "down"),
            "lost": {"chartRef": {"kind": "HelmChart", "name": "lost"}, "interval": "5m"},
            "middle": spec(h, dependsOn=[{"name": "paused"}]),
            "top": spec(h, dependsOn=[{"name": "middle"}]),
            "ping": spec(h, dependsOn=[{"name": "pong"}]),
            "pong": spec(h, dependsOn=[{"name": "ping"}]),
            "pending": spec(h, values={"hang": True}, install={"timeout": "2m"}),
            "novalues": spec(h, valuesFrom=[{"kind": "Secret", "name": "absent"}]),
            "tested": spec(h, **failing_test),
            "hooked": spec(h, chart="hooked"),
            "unhealthy": spec(h, healthCheckExprs=CHECKS, values={"message": "broken"}),
            "exhausted": spec(
                h,
                install={"remediation": {"retries": 0, "remediateLastFailure": True}},
                **failing_test,
            ),
            "fine": spec(h),
        }
        for name, body in releases.items():
            await h.apply_release(name, body)
        yield Stage(h)


def _from(h: Harness, repository: str) -> dict[str, Any]:
    body = spec(h)
    body["chart"]["spec"]["sourceRef"] = {"kind": "HelmRepository", "name": repository}
    return body


async def _lose_an_artifact(h: Harness, storage: Path) -> None:
    """A HelmChart `lost` with an artifact whose file is then removed from the controller's
    storage, as a source-controller restarted on an empty volume would have it."""
    chart = {
        "apiVersion": HELM_CHARTS.api_version,
        "kind": "HelmChart",
        "metadata": {"name": "lost", "namespace": h.namespace},
        "spec": {
            "chart": "lost",
            "version": "1.0.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
            "interval": "1h",
        },
    }
    await rest.request(h.kube, "POST", HELM_CHARTS.path(h.namespace), body=chart)
    await wait_ready(h, HELM_CHARTS, "lost")
    obj = await rest.request(h.kube, "GET", HELM_CHARTS.path(h.namespace, "lost"))
    (storage / obj["status"]["artifact"]["path"]).unlink()


# One test per cause, in the chain's order.


async def test_suspended(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect("paused", f"HelmRelease {ns}/paused is suspended")
    assert lines[-1] == f"  next: helmward resume paused -n {ns}"


async def test_source_missing(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "orphan", f"HelmRelease {ns}/orphan: source HelmRepository {ns}/nowhere does not exist"
    )
    assert f"  HelmRepository {ns}/nowhere: not found" in lines


async def test_source_failing_with_its_fetch_error(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "unreachable",
        f"HelmRelease {ns}/unreachable: source HelmRepository {ns}/down fails to fetch",
    )
    fetch = [line for line in lines if line.startswith(f"  HelmRepository {ns}/down: Ready=False")]
    assert fetch, lines
    assert "failed to fetch Helm repository index" in fetch[0]
    assert "127.0.0.1:1" in fetch[0]
    assert lines[-1] == f"  next: helmward reconcile unreachable -n {ns} --with-source"


async def test_artifact_missing(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "lost", f"HelmRelease {ns}/lost: the artifact of HelmChart {ns}/lost cannot be fetched"
    )
    assert any("answered HTTP 404" in line for line in lines), lines


async def test_dependency_not_ready_names_its_own_cause_recursively(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "top", f"HelmRelease {ns}/top: dependency HelmRelease {ns}/middle is not ready"
    )
    assert lines[1:3] == [
        f"  HelmRelease {ns}/middle: dependency HelmRelease {ns}/paused is not ready",
        f"    HelmRelease {ns}/paused is suspended",
    ]
    assert lines[-1] == f"  next: helmward resume paused -n {ns}"


async def test_dependency_cycle_is_named(stage: Stage) -> None:
    ns = stage.ns
    cycle = f"{ns}/ping -> {ns}/pong -> {ns}/ping"
    await stage.expect("ping", f"HelmRelease {ns}/ping is in a dependency cycle: {cycle}")
    await stage.expect("pong", f"HelmRelease {ns}/pong is in a dependency cycle: {cycle}")


async def test_release_locked_pending(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "pending",
        f"HelmRelease {ns}/pending: Helm release {ns}/pending is locked in pending-install "
        "(revision 1)",
    )
    assert lines[1] == (
        f"  Helm storage: Secret {ns}/sh.helm.release.v1.pending.v1 has status pending-install"
    )
    assert lines[2].startswith("  the controller is running it: Running 'install' action")
    # The hook ends (KWOK fails a pod labelled so), the install fails, the lock is gone.
    pod = PODS.path(ns, "pending-hang")
    await eventually(lambda: rest.get_optional(stage.h.kube, pod), what="hook pod pending-hang")
    fail = {"metadata": {"labels": {"kwok.helmward.io/fail": "true"}}}
    await rest.request(stage.h.kube, "PATCH", pod, body=fail, content_type=rest.MERGE_PATCH)
    await stage.expect(
        "pending",
        f"HelmRelease {ns}/pending: the last install failed: hook pod {ns}/pending-hang exited "
        "with code 1",
    )


async def test_values_cannot_be_composed(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "novalues",
        f"HelmRelease {ns}/novalues: values cannot be composed: Secret {ns}/absent "
        "(key values.yaml): resource not found",
    )
    assert lines[1] == "  spec.valuesFrom[0]: Secret absent, key values.yaml"
    assert lines[-1] == (
        f"  next: kubectl -n {ns} create secret generic absent --from-file=values.yaml=<file>"
    )


async def test_last_action_failed_names_the_test_pod_and_its_exit_code(stage: Stage) -> None:
    ns = stage.ns
    await stage.h.wait("tested", "Stalled", "True", reason="RetriesExceeded")
    lines = await stage.expect(
        "tested",
        f"HelmRelease {ns}/tested: the last test failed: test pod {ns}/tested-test exited "
        "with code 1",
    )
    at = lines.index(f"  test pod {ns}/tested-test: Failed")
    assert lines[at + 1] == "    container t: terminated (Error), exit code 1"
    assert any(line.startswith("    event Normal Scheduled:") for line in lines[at:]), lines
    assert (
        "    not retried before a change of spec, chart or values, or "
        f"helmward reconcile tested -n {ns} --reset"
    ) in lines
    assert lines[-1] == f"  next: kubectl -n {ns} logs tested-test"


async def test_last_action_failed_names_the_hook_pod(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "hooked",
        f"HelmRelease {ns}/hooked: the last install failed: hook pod {ns}/hooked-hook "
        "exited with code 3",
    )
    assert "    container main: terminated (Error), exit code 3" in lines


async def test_health_check_failing_with_its_expression(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "unhealthy",
        f"HelmRelease {ns}/unhealthy: health check of ConfigMap {ns}/unhealthy-config failed "
        "(failed: data.message == 'broken')",
    )
    assert lines[1:4] == [
        "  healthCheckExprs v1/ConfigMap:",
        "    current: data.message == 'healthy'",
        "    failed: data.message == 'broken'",
    ]


async def test_retries_exhausted_and_what_resets_them(stage: Stage) -> None:
    ns = stage.ns
    lines = await stage.expect(
        "exhausted",
        f"HelmRelease {ns}/exhausted is stalled: retries exhausted "
        "(Failed to install after 1 attempt(s))",
    )
    assert lines[-1] == f"  next: helmward reconcile exhausted -n {ns} --reset"
    assert any("Remediated=True UninstallSucceeded" in line for line in lines), lines


# Ready, the exit codes, the data formats, and the function reconcile calls.


async def test_ready_exits_0(stage: Stage) -> None:
    ns = stage.ns
    await stage.h.wait("fine", "Ready", "True")
    r = await stage.why("fine")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines() == [
        f"HelmRelease {ns}/fine is Ready: Helm install succeeded for release {ns}/fine with "
        "chart demo@1.0.0"
    ]


async def test_json_and_yaml_give_the_answer_as_data(stage: Stage) -> None:
    ns = stage.ns
    await stage.expect(
        "top", f"HelmRelease {ns}/top: dependency HelmRelease {ns}/middle is not ready"
    )
    as_json, as_yaml = await stage.why("top", "-o", "json"), await stage.why("top", "-o", "yaml")
    assert (as_json.code, as_yaml.code) == (1, 1)
    data = json.loads(as_json.out)
    assert yaml.safe_load(as_yaml.out) == data
    assert (data["ready"], data["cause"]) == (False, "DependencyNotReady")
    inner = data["dependency"]["dependency"]
    assert (inner["name"], inner["cause"], inner["hint"]) == (
        "paused",
        "Suspended",
        f"helmward resume paused -n {ns}",
    )


async def test_usage_and_absent_release(stage: Stage) -> None:
    ns = stage.ns
    r = await stage.why("fine", "-A")
    assert r.code == 2
    r = await stage.why("nothing-here")
    assert (r.code, r.out.splitlines()[0]) == (1, f"HelmRelease {ns}/nothing-here does not exist")


async def test_explain_is_what_reconcile_prints(stage: Stage) -> None:
    from internal.kube.client import ApiClient, configuration_of

    conf = await configuration_of(str(stage.h.kubeconfig))
    api = ApiClient(conf)
    try:
        answer = await explain(Session(api, stage.ns, False), stage.ns, "paused")
        assert not answer.ready
        assert answer.render()[0] == f"HelmRelease {stage.ns}/paused is suspended"
        fine = await explain(Session(api, stage.ns, False), stage.ns, "fine")
        assert fine.ready
    finally:
        await api.close()
