"""Values from secret stores, end to end: a HelmRelease whose values hold `ref+<backend>://`
references installs with the secrets resolved, upgrades once when a secret rotates, does
nothing when none changed, and says Ready=False with ValuesError (the reference named, never
its value) for a missing secret, a denied one and a malformed reference; for each backend.
Then every log line, event and status of the run is searched for the marker values."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from hack.testkit.charts import make_chart
from hack.testkit.plane import ControlPlane
from hack.testkit.secret_stores import KeyVaultStandIn, Moto, running_keyvault, running_moto
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.e2e.conftest import Harness, running_harness

pytestmark = pytest.mark.e2e

MARK = "LEAKMARK"
CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-app
data:
  password: {{ .Values.db.password | quote }}
  user: {{ .Values.db.user | quote }}
"""


def marker() -> str:
    return f"{MARK}-{uuid.uuid4().hex[:12]}"


@dataclass
class Scenario:
    """One backend as the test drives it: how to write a secret, how to name it in values, the
    credentials a release names, and credentials (or a secret) that may not read it."""

    backend: str
    put: Callable[[str, str], Awaitable[None]]
    ref: Callable[[str, str], str]
    credentials: dict[str, str] = field(default_factory=dict)
    denied_credentials: dict[str, str] = field(default_factory=dict)
    denied_secret: str = ""
    denied_account: str = ""
    """A service account the release impersonates, with no right to read the secret."""
    markers: list[str] = field(default_factory=list)


async def _secret(kube: client.ApiClient, ns: str, name: str, data: dict[str, str]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    await rest.request(
        kube,
        "PATCH",
        f"/api/v1/namespaces/{ns}/secrets/{name}",
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "e2e", "force": True},
    )


async def _release(
    h: Harness, name: str, values: dict[str, Any], creds: str | None, account: str = ""
) -> None:
    annotations = {"helmward.io/values-refs": "enabled"}
    if creds:
        annotations["helmward.io/values-credentials"] = creds
    body = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": h.namespace, "annotations": annotations},
        "spec": {
            **h.chart_spec("app"),
            "interval": "2s",
            "values": values,
            **({"serviceAccountName": account} if account else {}),
        },
    }
    await rest.request(
        h.kube,
        "PATCH",
        HELM_RELEASES.path(h.namespace, name),
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "e2e", "force": True},
    )


async def _revisions(kube: client.ApiClient, ns: str, release: str) -> list[int]:
    secrets = await client.CoreV1Api(kube).list_namespaced_secret(
        ns, label_selector=f"owner=helm,name={release}"
    )
    return sorted(int(s.metadata.labels["version"]) for s in secrets.items)


async def _config(kube: client.ApiClient, ns: str, release: str) -> dict[str, str]:
    cm = await client.CoreV1Api(kube).read_namespaced_config_map(f"{release}-app", ns)
    return dict(cm.data or {})


async def exercise(h: Harness, s: Scenario) -> None:
    ns, kube = h.namespace, h.kube
    creds = f"{s.backend}-creds" if s.credentials else None
    if creds:
        await _secret(kube, ns, creds, s.credentials)
    name = f"{s.backend}-db"
    password, user = marker(), marker()
    s.markers += [password, user]
    await s.put(name, json.dumps({"password": password, "user": user}))
    values = {"db": {"password": s.ref(name, "/password"), "user": s.ref(name, "/user")}}
    release = f"r-{s.backend}"

    # install
    await _release(h, release, values, creds)
    await h.wait(release, "Ready", "True", within=60)
    assert await _config(kube, ns, release) == {"password": password, "user": user}
    assert await _revisions(kube, ns, release) == [1]

    # nothing changed: no Helm action and no status write over a few intervals
    before = (await h.get(release))["metadata"]["resourceVersion"]
    await _quiet(h, release, seconds=5)
    assert await _revisions(kube, ns, release) == [1]
    assert (await h.get(release))["metadata"]["resourceVersion"] == before

    # rotation: one upgrade
    rotated = marker()
    s.markers.append(rotated)
    await s.put(name, json.dumps({"password": rotated, "user": user}))

    async def upgraded() -> bool:
        return await _revisions(kube, ns, release) == [1, 2]

    await eventually(upgraded, within=60, what=f"{release} upgraded once after the rotation")
    await h.wait(release, "Ready", "True")
    assert (await _config(kube, ns, release))["password"] == rotated
    await _quiet(h, release, seconds=4)
    assert await _revisions(kube, ns, release) == [1, 2]

    # a missing secret
    missing = {"db": {"password": s.ref("nope", ""), "user": "u"}}
    await _release(h, f"{release}-missing", missing, creds)
    failed = await h.wait(f"{release}-missing", "Ready", "False", reason="ValuesError")
    message = _ready(failed)["message"]
    assert "NotFound" in message
    assert "nope" in message

    # a denied secret: the store refuses the release's credentials
    if s.denied_credentials or s.denied_secret or s.denied_account:
        denied_creds = creds
        if s.denied_credentials:
            denied_creds = f"{s.backend}-denied-creds"
            await _secret(kube, ns, denied_creds, s.denied_credentials)
        secret = s.denied_secret or name
        denied_value = marker()
        s.markers.append(denied_value)
        if s.denied_secret:
            await s.put(secret, denied_value)
        spec = {"db": {"password": s.ref(secret, ""), "user": "u"}}
        await _release(h, f"{release}-denied", spec, denied_creds, s.denied_account)
        failed = await h.wait(f"{release}-denied", "Ready", "False", reason="ValuesError")
        message = _ready(failed)["message"]
        assert "AccessDenied" in message, message
        assert secret in message

    # a malformed reference
    bad = {"db": {"password": f"ref+{s.backend}:/{name}", "user": "u"}}
    await _release(h, f"{release}-bad", bad, creds)
    failed = await h.wait(f"{release}-bad", "Ready", "False", reason="ValuesError")
    assert _ready(failed)["message"].startswith("values.db.password: malformed reference")


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


async def _quiet(h: Harness, release: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await h.wait(release, "Ready", "True")


async def _leaks(h: Harness, markers: list[str], log: Path) -> list[str]:
    """Every place a marker shows up: the controller's log (the engine's lines included),
    the namespace's events, and the HelmReleases' status."""
    found = []
    text = log.read_text()  # noqa: ASYNC240 - one file, at the end
    found += [f"log: {m}" for m in markers if m in text]
    events = await client.CoreV1Api(h.kube).list_namespaced_event(h.namespace)
    blob = json.dumps([e.to_dict() for e in events.items], default=str)
    found += [f"event: {m}" for m in markers if m in blob]
    releases = await rest.request(h.kube, "GET", HELM_RELEASES.path(h.namespace))
    status = json.dumps([i.get("status") for i in releases.get("items", [])])
    found += [f"status: {m}" for m in markers if m in status]
    return found


@pytest.fixture
def chart_dirs(tmp_path: Path) -> Iterator[list[Path]]:
    return [
        make_chart(
            tmp_path / "charts",
            "app",
            version="1.0.0",
            templates={"configmap.yaml": CONFIG},
            values={"db": {"password": "", "user": ""}},
        )
    ]


@pytest.fixture
async def harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    chart_dirs: list[Path],
) -> AsyncIterator[Harness]:
    flags = ("--values-refs-ttl", "1s", "--log-level", "debug", "--values-azure-any-resource")
    async with running_harness(control_plane, kube, namespace, tmp_path, chart_dirs, flags) as h:
        yield h


SM_READ = [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]
SSM_READ = [{"Effect": "Allow", "Action": ["ssm:*", "kms:Decrypt"], "Resource": "*"}]
NOTHING = [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]


def aws_secrets(moto: Moto) -> Scenario:
    async def put(name: str, value: str) -> None:
        try:
            moto.create_secret(name, value)
        except Exception:  # exists: a new version becomes AWSCURRENT
            moto.put_secret_version(name, value)

    return Scenario(
        "awssecrets",
        put,
        lambda name, pointer: f"ref+awssecrets://{name}" + (f"#{pointer}" if pointer else ""),
        credentials=moto.credentials(moto.user("reader", SM_READ)),
        denied_credentials=moto.credentials(moto.user("outsider", NOTHING)),
    )


def aws_ssm(moto: Moto) -> Scenario:
    async def put(name: str, value: str) -> None:
        moto.put_parameter(f"/app/{name}", value)

    return Scenario(
        "awsssm",
        put,
        lambda name, pointer: f"ref+awsssm:///app/{name}" + (f"#{pointer}" if pointer else ""),
        credentials=moto.credentials(moto.user("ssm-reader", SSM_READ)),
        denied_credentials=moto.credentials(moto.user("ssm-outsider", NOTHING)),
    )


def kube_secrets(kube: client.ApiClient, namespace: str) -> Scenario:
    async def put(name: str, value: str) -> None:
        await _secret(kube, namespace, name, {"value": value})

    return Scenario(
        "k8s",
        put,
        lambda name, pointer: f"ref+k8s://{name}/value" + (f"#{pointer}" if pointer else ""),
        denied_account="tenant",
    )


def key_vault(vault: KeyVaultStandIn) -> Scenario:
    async def put(name: str, value: str) -> None:
        vault.put(name, value)

    vault.denied.add("forbidden")
    return Scenario(
        "azurekv",
        put,
        lambda name, pointer: f"ref+azurekv://{name}" + (f"#{pointer}" if pointer else ""),
        credentials=vault.credentials(),
        denied_secret="forbidden",
    )


def _cli(h: Harness, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(h.kubeconfig)}
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", *args, "-n", h.namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def moto() -> Iterator[Moto]:
    with running_moto() as m:
        yield m


@pytest.fixture
async def vault() -> AsyncIterator[KeyVaultStandIn]:
    async with running_keyvault() as v:
        yield v


async def test_every_backend_end_to_end_and_nothing_leaks(
    moto: Moto, vault: KeyVaultStandIn, harness: Harness, tmp_path: Path
) -> None:
    h = harness
    scenarios = [
        aws_secrets(moto),
        aws_ssm(moto),
        kube_secrets(h.kube, h.namespace),
        key_vault(vault),
    ]
    await asyncio.gather(*(exercise(h, s) for s in scenarios))
    markers = [m for s in scenarios for m in s.markers]
    shown = _cli(h, "values", "r-awssecrets") + _cli(h, "values", "get", "ref+k8s://k8s-db/value")
    print(shown)
    assert "password: <ref+awssecrets://awssecrets-db#/password>" in shown
    assert "<hidden: " in shown
    assert not [m for m in markers if m in shown]
    log = tmp_path / "controller.log"
    found = await _leaks(h, markers, log)
    lines = len(log.read_text().splitlines())
    print(f"leak search: {len(markers)} marker values, {lines} log lines, events and statuses:")
    print(f"  found {len(found)}: {found}")
    assert found == []
