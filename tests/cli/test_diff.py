"""`helmward diff` against the local control plane with a real controller: each prediction is
checked against the upgrade the controller then runs (the live objects before and after,
object by object), Secret data never printed, a removed template a `remove`, no changes exit 0.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from hack.testkit import charts
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.discovery import Discovery
from internal.kube.resources import HELM_RELEASES
from internal.preview import Change
from internal.preview.plan import change_of, without_allocated
from tests.e2e.conftest import Harness, running_harness
from tests.e2e.conftest import flux_crds as flux_crds  # the session fixture, reused

pytestmark = pytest.mark.e2e

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
  chart: {{ .Chart.Version | quote }}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | quote }}
"""
LEGACY = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-legacy
data: {kept: "until 2.0.0"}
"""
ADDED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-added
data: {new: "in 2.0.0"}
"""
VALUES = {"message": "hello", "password": "chart-default-password"}

PASSWORDS = ("first-Pa55word", "second-Pa55word", "third-Pa55word")


def secrets_absent(text: str) -> None:
    for word in (*PASSWORDS, VALUES["password"]):
        assert word not in text
        assert base64.b64encode(word.encode()).decode() not in text


@pytest.fixture
async def harness(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    src = tmp_path / "src"
    old = {"config.yaml": CONFIG, "secret.yaml": SECRET, "legacy.yaml": LEGACY}
    new = {"config.yaml": CONFIG, "secret.yaml": SECRET, "added.yaml": ADDED}
    chart_dirs = [
        charts.make_chart(src, "app", version="1.0.0", templates=old, values=VALUES),
        charts.make_chart(src, "app", version="2.0.0", templates=new, values=VALUES),
    ]
    async with running_harness(control_plane, kube, namespace, tmp_path, chart_dirs) as h:
        yield h


async def helmward(h: Harness | tuple[str, Path], *args: str) -> tuple[int, str, str]:
    """`helmward <args>` as a process, in the harness's namespace (or a (namespace,
    kubeconfig) pair): exit code, stdout, stderr."""
    namespace, kubeconfig = (h.namespace, h.kubeconfig) if isinstance(h, Harness) else h
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        *args,
        "-n",
        namespace,
        "--kubeconfig",
        str(kubeconfig),
        env={**os.environ, "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def plan_of(h: Harness, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = await helmward(h, "diff", "app", "-o", "json", *args)
    assert code in (0, 1), err
    secrets_absent(out)
    return code, json.loads(out)


def changes(plan: dict[str, Any]) -> list[Change]:
    return [
        Change(c["action"], c["apiVersion"], c["kind"], c["namespace"], c["name"], c["diff"])
        for c in plan["changes"]
    ]


async def live(h: Harness, predicted: list[Change]) -> dict[str, dict[str, Any] | None]:
    discovery = Discovery(h.kube)
    out: dict[str, dict[str, Any] | None] = {}
    for c in predicted:
        res = await discovery.resource(c.api_version, c.kind)
        assert res is not None
        out[c.ref] = await rest.get_optional(h.kube, res.path(c.namespace or None, c.name))
    return out


def observed(
    predicted: list[Change],
    before: dict[str, dict[str, Any] | None],
    after: dict[str, dict[str, Any] | None],
) -> list[Change | None]:
    """What the upgrade changed, object by object, as `diff` words a change. An added object
    without what its creation allocated (a Service's cluster IP), which no plan can know."""
    out = []
    for c in predicted:
        now = after[c.ref]
        if c.action == "add" and now is not None:
            now = without_allocated(now, {})
        out.append(change_of(before[c.ref], now))
    return out


async def apply(h: Harness, version: str, password: str, **spec: Any) -> None:
    body = h.chart_spec("app", version)
    body["values"] = {"password": password}
    body["valuesFrom"] = [{"kind": "ConfigMap", "name": "app-values"}]
    await h.apply_release("app", {**body, **spec})


async def set_values_from(h: Harness, message: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-values", "namespace": h.namespace},
        "data": {"values.yaml": f"message: {message}\n"},
    }
    await rest.request(
        h.kube,
        "PATCH",
        f"/api/v1/namespaces/{h.namespace}/configmaps/app-values",
        body=body,
        content_type=rest.APPLY_PATCH,
        query={"fieldManager": "e2e", "force": True},
    )


async def released(h: Harness, chart: str, revision: int | None = None) -> dict[str, Any]:
    """The release once its spec is reconciled and Ready with `chart` as the newest Helm
    revision (`revision` itself when given)."""

    async def probe() -> dict[str, Any] | None:
        obj = await rest.request(h.kube, "GET", HELM_RELEASES.path(h.namespace, "app"))
        status = obj.get("status") or {}
        newest = (status.get("history") or [{}])[0]
        ready = any(
            c["type"] == "Ready"
            and c["status"] == "True"
            and c.get("observedGeneration") == obj["metadata"]["generation"]
            for c in status.get("conditions") or []
        )
        done = newest.get("chartVersion") == chart and revision in (None, newest.get("version"))
        return obj if done and ready else None

    return await eventually(probe, within=60, what=f"app at {chart} Ready")


def golden(text: str, namespace: str) -> str:
    """Output with the test's namespace and the digests (which name it) made stable."""
    text = text.replace(namespace, "NS")
    return re.sub(r"sha256:[0-9a-f]{64}", "sha256:DIGEST", text)


GOLDEN_UPGRADE = """\
HelmRelease NS/app: upgrade app 2.0.0: +1 ~2 -1 (sha256:DIGEST)

+ ConfigMap NS/app-added (add)
--- /dev/null
+++ ConfigMap/NS/app-added (after upgrade)
@@ -0,0 +1,14 @@
+apiVersion: v1
+data:
+  new: in 2.0.0
+kind: ConfigMap
+metadata:
+  annotations:
+    meta.helm.sh/release-name: app
+    meta.helm.sh/release-namespace: NS
+  labels:
+    app.kubernetes.io/managed-by: Helm
+    helm.toolkit.fluxcd.io/name: app
+    helm.toolkit.fluxcd.io/namespace: NS
+  name: app-added
+  namespace: NS

~ ConfigMap NS/app-config (change)
--- ConfigMap/NS/app-config (live)
+++ ConfigMap/NS/app-config (after upgrade)
@@ -1,7 +1,7 @@
 apiVersion: v1
 data:
-  chart: 1.0.0
-  message: from-configmap-2
+  chart: 2.0.0
+  message: from-a-file
 kind: ConfigMap
 metadata:
   annotations:

- ConfigMap NS/app-legacy (remove)
--- ConfigMap/NS/app-legacy (live)
+++ /dev/null
@@ -1,14 +0,0 @@
-apiVersion: v1
-data:
-  kept: until 2.0.0
-kind: ConfigMap
-metadata:
-  annotations:
-    meta.helm.sh/release-name: app
-    meta.helm.sh/release-namespace: NS
-  labels:
-    app.kubernetes.io/managed-by: Helm
-    helm.toolkit.fluxcd.io/name: app
-    helm.toolkit.fluxcd.io/namespace: NS
-  name: app-legacy
-  namespace: NS

~ Secret NS/app-creds (change)
--- Secret/NS/app-creds (live)
+++ Secret/NS/app-creds (after upgrade)
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  password: '*** (before)'
+  password: '*** (after)'
 kind: Secret
 metadata:
   annotations:
"""


async def test_diff_predicts_each_upgrade_the_controller_runs(harness: Harness) -> None:
    h = harness
    await set_values_from(h, "from-configmap")
    await apply(h, "1.0.0", PASSWORDS[0])
    await released(h, "1.0.0", 1)

    # Nothing to do: exit 0, an empty plan.
    code, out, err = await helmward(h, "diff", "app")
    assert (code, err) == (0, ""), err
    assert (
        golden(out, h.namespace)
        == "HelmRelease NS/app: upgrade app 1.0.0: no changes (sha256:DIGEST)\n"
    )
    code, plan = await plan_of(h)
    assert (code, plan["summary"], plan["changes"]) == (0, "+0 ~0 -0", [])

    # A change of spec.values and of a valuesFrom ConfigMap, held back by suspend: the plan
    # is made from the current spec and the HelmChart's artifact.
    await apply(h, "1.0.0", PASSWORDS[1], suspend=True)
    await set_values_from(h, "from-configmap-2")
    code, plan = await plan_of(h)
    assert code == 1
    predicted = changes(plan)
    assert [(c.action, c.name) for c in predicted] == [
        ("change", "app-config"),
        ("change", "app-creds"),
    ]
    assert "+  message: from-configmap-2" in predicted[0].diff.splitlines()
    before = await live(h, predicted)
    await apply(h, "1.0.0", PASSWORDS[1], suspend=False)
    await released(h, "1.0.0", 2)
    assert observed(predicted, before, await live(h, predicted)) == predicted

    # Another chart version and a values file: a template added, one removed, the Secret
    # masked. Then the same as the spec, upgraded by the controller.
    values_file = h.work_dir / "override.yaml"
    values_file.write_text(f"message: from-a-file\npassword: {PASSWORDS[2]}\n")
    overrides = ("--chart-version", "2.0.0", "-f", str(values_file))
    code, out, err = await helmward(h, "diff", "app", *overrides)
    assert code == 1, err
    secrets_absent(out)
    assert golden(out, h.namespace) == GOLDEN_UPGRADE, out
    code, plan = await plan_of(h, *overrides)
    assert (code, plan["summary"], plan["chart"]) == (
        1,
        "+1 ~2 -1",
        {"name": "app", "version": "2.0.0"},
    )
    code, out, _ = await helmward(h, "diff", "app", "-o", "yaml", *overrides)
    assert code == 1
    assert yaml.safe_load(out) == plan
    predicted = changes(plan)
    assert {c.name: c.action for c in predicted} == {
        "app-added": "add",
        "app-config": "change",
        "app-creds": "change",
        "app-legacy": "remove",
    }
    before = await live(h, predicted)
    await set_values_from(h, "from-a-file")
    await apply(h, "2.0.0", PASSWORDS[2])
    # The new values may be released with the old chart first, while the HelmChart builds
    # 2.0.0: what counts is the state the upgrades end in.
    await released(h, "2.0.0")
    after = await live(h, predicted)
    assert after[f"ConfigMap/{h.namespace}/app-legacy"] is None
    assert observed(predicted, before, after) == predicted

    code, out, err = await helmward(h, "diff", "app")
    assert code == 0, out + err


async def test_diff_usage_errors(
    control_plane: ControlPlane, namespace: str, flux_crds: list[str], tmp_path: Path
) -> None:
    where = (namespace, control_plane.kubeconfig)
    code, out, err = await helmward(where, "diff", "missing")
    assert (code, out) == (2, "")
    assert err == f'error: HelmRelease "missing" not found in namespace "{namespace}"\n'
    code, _, err = await helmward(where, "diff", "app", "-A")
    assert code == 2
    assert "-A" in err
    code, _, err = await helmward(where, "diff", "app", "-f", str(tmp_path / "absent.yaml"))
    assert code == 2
    assert "absent.yaml" in err
