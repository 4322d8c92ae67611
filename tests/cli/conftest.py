"""The CLI against the real local control plane and a real controller: one namespace, one chart
repository and one `helmward run` per test module (`cli_harness`), and `run_cli`, which runs
`helmward ...` in this process (`controller.cli.main`, in a thread so it has its own event loop)
and captures its exit code, stdout and stderr.

Golden output is made comparable three ways: the module's namespace has a fixed length and is
written `t-cli-NSNSNS` (`Cli.normalize`); digests, which Flux's CLI cuts to 8 hex digits, are
written `xxxxxxxx`; and every AGE is measured from HELMWARD_NOW, set to 30 days after the module
started, so each object made during the module is `29d` old."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from api.meta import wire_time
from hack.testkit.charts import CONFIGMAP, DEPLOYMENT, make_chart, write_message_chart
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import Resource
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused
from tests.e2e.conftest import Harness, running_harness

GOLDEN = Path(__file__).parent / "golden"
NAMESPACE_PLACEHOLDER = "t-cli-NSNSNS"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    h: Harness
    now: datetime

    @property
    def namespace(self) -> str:
        return self.h.namespace

    async def __call__(self, *argv: str, namespace: bool = True) -> Run:
        """`helmward argv...` against the control plane (in the module's namespace unless
        `namespace` is False)."""
        flags = ["--kubeconfig", str(self.h.kubeconfig)]
        if namespace:
            flags += ["-n", self.namespace]
        return await run_cli(argv[0], *flags, *argv[1:], now=self.now)

    def normalize(self, text: str) -> str:
        """The parts that differ between runs, written the same way at the same length: the
        namespace, digests cut to 8 digits, and the chart server's (5-digit, ephemeral) port;
        and the size of its index (its timestamps vary), which only a last column shows."""
        text = text.replace(self.namespace, NAMESPACE_PLACEHOLDER)
        text = re.sub(r"sha256:[a-f0-9]{8}\b", "sha256:xxxxxxxx", text)
        text = re.sub(r"index of size [0-9]+ ", "index of size N ", text)
        return re.sub(r"127\.0\.0\.1:[0-9]{5}\b", "127.0.0.1:PPPPP", text)

    def golden(self, name: str, text: str) -> None:
        """`text`, normalized, equals tests/cli/golden/<name>.txt (HELMWARD_UPDATE_GOLDEN=1
        writes it instead)."""
        path = GOLDEN / f"{name}.txt"
        got = self.normalize(text)
        if os.environ.get("HELMWARD_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(exist_ok=True)
            path.write_text(got)
        assert got == path.read_text(), f"{path.name} differs:\n{got}"


_lock = asyncio.Lock()


async def run_cli(*argv: str, now: datetime | None = None) -> Run:
    """`helmward argv...` in this process: stdout and stderr captured, the exit code returned
    (argparse's SystemExit included); HELMWARD_NOW set to `now`."""
    from controller.cli import main

    def call() -> Run:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = int(exc.code or 0)
        return Run(code, out.getvalue(), err.getvalue())

    async with _lock:  # stdout is one per process
        saved = os.environ.get("HELMWARD_NOW")
        if now is not None:
            os.environ["HELMWARD_NOW"] = wire_time(now)
        try:
            return await asyncio.to_thread(call)
        finally:
            if saved is None:
                os.environ.pop("HELMWARD_NOW", None)
            else:
                os.environ["HELMWARD_NOW"] = saved


def chart(root: Path, version: str) -> Path:
    """`demo` at `version`: a Deployment and a ConfigMap."""
    return make_chart(
        root,
        "demo",
        version=version,
        app_version=version,
        templates={"deployment.yaml": DEPLOYMENT, "configmap.yaml": CONFIGMAP},
    )


@pytest.fixture(scope="module")
async def cli_namespace(kube: client.ApiClient) -> AsyncIterator[str]:
    """A namespace of a fixed length (`t-cli-` and 6 hex digits), for the whole module."""
    core = client.CoreV1Api(kube)
    name = f"t-cli-{uuid.uuid4().hex[:6]}"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    async def default_sa() -> bool:
        try:
            await core.read_namespaced_service_account("default", name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    await eventually(default_sa, within=30, what=f"service account default in {name}")
    yield name
    with contextlib.suppress(ApiException):
        await core.delete_namespace(name)


@pytest.fixture(scope="module")
async def cli_harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    cli_namespace: str,
    flux_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cli]:
    """A chart repository (HelmRepository `charts`) serving `demo` 1.0.0 and 1.1.0 (a
    Deployment and a ConfigMap) and `slow` 1.0.0 (whose post-install hook never completes when
    `.Values.hang` is set), and a controller watching the module's namespace."""
    # Creation times are whole seconds, so the module starts at the last whole second; every
    # object made in the next 24 hours is then between 29 and 30 days old at `now`.
    started = datetime.now(UTC).replace(microsecond=0)
    tmp = tmp_path_factory.mktemp("cli")
    charts = [chart(tmp / "src", v) for v in ("1.0.0", "1.1.0")]
    charts.append(write_message_chart(tmp / "src", "slow", "1.0.0"))
    async with running_harness(control_plane, kube, cli_namespace, tmp, charts) as h:
        yield Cli(h, started + timedelta(days=30, seconds=-1))


def release(h: Harness, version: str = "1.0.0", **spec: Any) -> dict[str, Any]:
    """A HelmRelease spec of the `demo` chart at `version`, with `spec` added."""
    return {**h.chart_spec(version=version), "values": {"image": "nginx:1.27"}, **spec}


async def wait_ready(h: Harness, resource: Resource, name: str, within: float = 60) -> None:
    """Until the object `name` of `resource` in the harness's namespace is Ready."""

    async def ready() -> bool:
        obj = await rest.get_optional(h.kube, resource.path(h.namespace, name))
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    await eventually(ready, within=within, what=f"{resource.kind} {name} Ready")
