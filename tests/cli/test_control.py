"""`reconcile`, `suspend` and `resume` against a real controller: Flux's annotations, the wait
for the handled token and Ready, the phase on stderr (a live line on a terminal), the outcome on
stdout, `why`'s answer when it ends not Ready, and `--timeout`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import sys
import time
from typing import Any

import pytest

from api.meta import FORCE_REQUEST_ANNOTATION, RECONCILE_REQUEST_ANNOTATION
from hack.testkit.paths import REPO_ROOT
from internal.kube import rest
from internal.kube.resources import HELM_CHARTS, HELM_REPOSITORIES
from tests.cli.conftest import Cli, release, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def staged(cli_harness: Cli) -> Cli:
    cli = cli_harness
    h = cli.h
    await wait_ready(h, HELM_REPOSITORIES, "charts")
    await h.apply_release("web", release(h))
    await h.apply_release(
        "novalues",
        release(h, valuesFrom=[{"kind": "ConfigMap", "name": "absent-values"}]),
    )
    await h.wait("web", "Ready", "True")
    await h.wait("novalues", "Ready", "False", reason="ValuesError")
    return cli


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


def handled(obj: dict[str, Any]) -> str | None:
    return (obj.get("status") or {}).get("lastHandledReconcileAt")


def steps(kind: str, name: str, namespace: str) -> list[str]:
    return [
        f"► annotating {kind} {name} in {namespace} namespace",
        f"✔ {kind} annotated",
        f"◎ waiting for {kind} reconciliation",
    ]


async def test_reconcile_waits_for_its_token_and_ready(staged: Cli) -> None:
    r = await staged("reconcile", "web")
    assert (r.code, r.out) == (0, "✔ applied revision 1.0.0\n")
    lines = r.err.splitlines()
    assert lines[:3] == steps("HelmRelease", "web", staged.namespace)
    # Then the phases seen, each once: the Ready message of the handled request at the end.
    assert lines[3:] == [
        f"  Helm install succeeded for release {staged.namespace}/web with chart demo@1.0.0"
    ]
    obj = await staged.h.get("web")
    assert handled(obj) == annotations(obj)[RECONCILE_REQUEST_ANNOTATION]
    data = await staged("reconcile", "web", "-o", "json")
    assert data.code == 0
    result = json.loads(data.out)
    assert (result["ready"], result["succeeded"], result["revision"]) == ("True", True, "1.0.0")
    assert result["requestedAt"] == handled(await staged.h.get("web"))


async def test_reconcile_with_source_reconciles_the_source_then_the_chart(staged: Cli) -> None:
    ns = staged.namespace
    r = await staged("reconcile", "web", "--with-source")
    assert (r.code, r.out) == (0, "✔ applied revision 1.0.0\n")
    starts = [line for line in r.err.splitlines() if line.startswith(("►", "✔"))]
    assert starts == [
        f"► annotating HelmRepository charts in {ns} namespace",
        "✔ HelmRepository annotated",
        starts[2],  # the repository's revision: its index digest
        f"► annotating HelmChart {ns}-web in {ns} namespace",
        "✔ HelmChart annotated",
        "✔ fetched revision 1.0.0",
        f"► annotating HelmRelease web in {ns} namespace",
        "✔ HelmRelease annotated",
    ]
    assert starts[2].startswith("✔ fetched revision sha256:")
    for resource, name in ((HELM_REPOSITORIES, "charts"), (HELM_CHARTS, f"{ns}-web")):
        obj = await rest.request(staged.h.kube, "GET", resource.path(ns, name))
        assert handled(obj) == annotations(obj)[RECONCILE_REQUEST_ANNOTATION]


async def test_reconcile_force_makes_a_new_revision(staged: Cli) -> None:
    r = await staged("reconcile", "web", "--force")
    assert (r.code, r.out) == (0, "✔ applied revision 1.0.0\n")
    obj = await staged.h.get("web")
    token = annotations(obj)[RECONCILE_REQUEST_ANNOTATION]
    assert annotations(obj)[FORCE_REQUEST_ANNOTATION] == token
    assert obj["status"]["lastHandledForceAt"] == token
    history = json.loads((await staged("history", "web", "-o", "json")).out)
    assert [(v["version"], v["storage"]) for v in history["versions"]] == [
        (1, "superseded"),
        (2, "deployed"),
    ]


async def test_suspend_refuse_then_resume(staged: Cli) -> None:
    ns = staged.namespace
    r = await staged("suspend", "web")
    assert (r.code, r.out, r.err) == (
        0,
        "✔ HelmRelease suspended\n",
        f"► suspending HelmRelease web in {ns} namespace\n",
    )
    assert (await staged.h.get("web"))["spec"]["suspend"] is True
    listed = json.loads((await staged("get", "hr", "web", "-o", "json")).out)
    assert listed[0]["suspended"] is True
    refused = await staged("reconcile", "web")
    assert (refused.code, refused.out) == (
        1,
        f"✗ HelmRelease {ns}/web is suspended; resume it with: helmward resume web\n",
    )
    resumed = await staged("resume", "web")
    assert (resumed.code, resumed.out) == (0, "✔ applied revision 1.0.0\n")
    assert resumed.err.splitlines()[:3] == [
        f"► resuming HelmRelease web in {ns} namespace",
        "✔ HelmRelease resumed",
        "◎ waiting for HelmRelease reconciliation",
    ]
    obj = await staged.h.get("web")
    assert obj["spec"]["suspend"] is False
    assert handled(obj) == annotations(obj)[RECONCILE_REQUEST_ANNOTATION]


async def expected_why(cli: Cli, name: str) -> list[str]:
    """What `helmward why` answers for `name` (nothing while there is no `why`)."""
    from controller.cli.control import why_lines
    from controller.cli.session import open_session

    args = argparse.Namespace(
        kubeconfig=str(cli.h.kubeconfig), context=None, namespace=cli.namespace
    )
    async with open_session(args) as session:
        return await why_lines(session, cli.namespace, name)


async def test_a_reconcile_that_ends_not_ready_says_why(staged: Cli) -> None:
    r = await staged("reconcile", "novalues")
    assert r.code == 1
    first, *rest = r.out.splitlines()
    assert first == (
        "✗ HelmRelease reconciliation failed: could not resolve ConfigMap chart values "
        f"reference '{staged.namespace}/absent-values' with key 'values.yaml': resource not found"
    )
    assert rest == await expected_why(staged, "novalues")


async def test_a_reconcile_gives_up_at_its_timeout(staged: Cli) -> None:
    h = staged.h
    spec = {
        **h.chart_spec(chart="slow"),
        "values": {"hang": True},
        "timeout": "8s",
        "install": {"remediation": {"retries": 0}},
    }
    await h.apply_release("hang", spec)
    await h.wait("hang", "Reconciling", "True", reason="Progressing")
    started = time.monotonic()
    r = await staged("reconcile", "hang", "--timeout", "2s")
    assert 2 <= time.monotonic() - started < 10
    assert r.code == 1
    phase = "Running 'install' action with timeout of 8s"
    first, *rest = r.out.splitlines()
    assert first == (
        f"✗ timed out after 2s waiting for HelmRelease {staged.namespace}/hang reconciliation: "
        f"{phase}"
    )
    assert f"  {phase}" in r.err.splitlines()
    assert rest == await expected_why(staged, "hang")


async def test_on_a_terminal_the_phase_is_one_live_line(staged: Cli) -> None:
    """stderr on a pseudo-terminal: rich's spinner redraws the line in place; stdout, a pipe,
    still has the outcome alone."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "reconcile",
        "web",
        "--kubeconfig",
        str(staged.h.kubeconfig),
        "-n",
        staged.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=slave,
        cwd=REPO_ROOT,
        env=env,
    )
    os.close(slave)
    out, _ = await proc.communicate()
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert (proc.returncode, out.decode()) == (0, "✔ applied revision 1.0.0\n")
    assert "► annotating HelmRelease web" in err
    assert "\x1b[" in err  # the live line is drawn and erased with terminal controls
    assert "\n  Helm install succeeded" not in err  # no phase printed as a line of its own


async def test_not_found_and_usage(staged: Cli) -> None:
    for verb in ("reconcile", "suspend", "resume"):
        r = await staged(verb, "nothing")
        assert (r.code, r.out) == (1, "")
        assert r.err == f"✗ HelmRelease 'nothing' not found in '{staged.namespace}' namespace\n"
    bad = await staged("reconcile", "web", "--timeout", "soon")
    assert bad.code == 2
    assert bad.err.startswith("error: --timeout: invalid duration 'soon'")
