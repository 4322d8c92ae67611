"""plan_upgrade against the local control plane, through the real engine: the plan of an
upgrade, then that upgrade, and the live objects changed as the plan said, object by object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

import api
from api.helmrelease import HelmRelease
from hack.testkit import charts
from hack.testkit.wait import eventually
from internal.helm import Engine
from internal.helm.models import ClusterTarget, ServiceAccountRef
from internal.kube import rest
from internal.kube.discovery import Discovery
from internal.manager import options
from internal.manager.clusters import Cluster, Clusters
from internal.manager.manager import Chart, Manager
from internal.preview import Change, Plan, PreviewError, plan_upgrade
from internal.preview.plan import change_of, without_allocated
from tests.engine.conftest import engine as engine  # the session fixtures, reused
from tests.engine.conftest import shim as shim
from tests.engine.conftest import target as target

pytestmark = pytest.mark.engine

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | quote }}
"""

EXTRA = """\
{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data: {a: b}
{{- end }}
"""

CAPABILITIES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  pdb: {{ .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" | quote }}
"""

INVALID = """\
{{- if .Values.invalid }}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-invalid
spec:
  ports: [{port: 99999}]
{{- end }}
"""

TEMPLATES = {
    "caps.yaml": CAPABILITIES,
    "invalid.yaml": INVALID,
    "configmap.yaml": charts.CONFIGMAP,
    "service.yaml": charts.SERVICE,
    "secret.yaml": SECRET,
    "extra.yaml": EXTRA,
}
VALUES = {"message": "hello", "password": "first-secret", "extra": True}


def release(name: str, namespace: str, **spec: Any) -> HelmRelease:
    hr = api.parse(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "x"}, **spec},
        }
    )
    assert isinstance(hr, HelmRelease)
    return hr


@pytest.fixture
async def cluster(kube: client.ApiClient, engine: Engine, target: ClusterTarget) -> Cluster:
    return Cluster(target, kube, Discovery(kube), engine.version().field_manager or "")


@pytest.fixture
def chart_dir(tmp_path: Path) -> Path:
    return charts.make_chart(tmp_path, "preview", templates=TEMPLATES, values=VALUES)


@pytest.fixture
async def installed(engine: Engine, cluster: Cluster, namespace: str, chart_dir: Path) -> Manager:
    """A release 'web' installed from the chart with its default values."""
    mgr = await manager(engine, cluster, release("web", namespace), chart_dir, {})
    done = await mgr.install_release()
    assert not done.failed, done.error
    await mgr.sync()
    return mgr


async def manager(
    engine: Engine, cluster: Cluster, hr: HelmRelease, chart_dir: Path, values: dict[str, Any]
) -> Manager:
    ns = hr.metadata.namespace or "default"
    target = options.Target(str(hr.metadata.name), ns, ns)
    info = await engine.load_chart(chart_dir)
    mgr = Manager(engine, hr, target, cluster, Chart(chart_dir, info, values))
    await mgr.sync()
    return mgr


async def live_objects(cluster: Cluster, plan: Plan) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for c in plan.changes:
        res = await cluster.discovery.resource(c.api_version, c.kind)
        assert res is not None
        out[c.ref] = await rest.get_optional(cluster.api, res.path(c.namespace or None, c.name))
    return out


def observed(
    plan: Plan, before: dict[str, dict[str, Any] | None], after: dict[str, dict[str, Any] | None]
) -> list[Change | None]:
    """What changed live, object by object; an added object without what its creation
    allocated (a Service's cluster IP), which a plan cannot know."""
    out = []
    for c in plan.changes:
        now = after[c.ref]
        if c.action == "add" and now is not None:
            now = without_allocated(now, {})
        out.append(change_of(before[c.ref], now))
    return out


async def test_the_plan_is_what_the_upgrade_does(
    engine: Engine, cluster: Cluster, namespace: str, chart_dir: Path, installed: Manager
) -> None:
    hr = release(
        "web",
        namespace,
        commonMetadata={"labels": {"team": "blue"}},
        postRenderers=[
            {
                "kustomize": {
                    "patches": [
                        {
                            "target": {"kind": "Service"},
                            "patch": '[{"op": "replace", "path": "/spec/ports/0/port", '
                            '"value": 8080}]',
                        }
                    ]
                }
            }
        ],
    )
    values = {"message": "changed", "password": "second-secret", "extra": False}
    mgr = await manager(engine, cluster, hr, chart_dir, values)
    plan = await plan_upgrade(mgr)

    assert plan.summary == "+0 ~4 -1", plan.as_dict()
    actions = {c.ref: c.action for c in plan.changes}
    assert actions == {
        f"ConfigMap/{namespace}/web-caps": "change",  # commonMetadata's label
        f"ConfigMap/{namespace}/web-config": "change",
        f"ConfigMap/{namespace}/web-extra": "remove",
        f"Secret/{namespace}/web-creds": "change",
        f"Service/{namespace}/web": "change",
    }
    for c in plan.changes:
        assert "first-secret" not in c.diff
        assert "second-secret" not in c.diff
    creds = next(c for c in plan.changes if c.kind == "Secret")
    assert "*** (after)" in creds.diff
    service = next(c for c in plan.changes if c.kind == "Service").diff.splitlines()
    assert "+  - port: 8080" in service
    assert "+    team: blue" in service

    before = await live_objects(cluster, plan)
    done = await mgr.upgrade_release()
    assert not done.failed, done.error
    after = await live_objects(cluster, plan)
    assert observed(plan, before, after) == list(plan.changes)

    # Once upgraded, the same spec plans nothing, and again the same nothing.
    await mgr.sync()
    again = await plan_upgrade(mgr)
    assert again.empty, again.as_dict()
    assert again.digest == Plan().digest


async def test_an_install_plan_and_a_stable_digest(
    engine: Engine, cluster: Cluster, namespace: str, chart_dir: Path
) -> None:
    mgr = await manager(engine, cluster, release("fresh", namespace), chart_dir, {})
    first = await plan_upgrade(mgr)
    assert first.summary == "+5 ~0 -0"
    caps = next(c for c in first.changes if c.name == "fresh-caps").diff.splitlines()
    assert "+  pdb: 'true'" in caps
    assert any(line.startswith("+  kube: v1.") for line in caps), caps
    assert {c.action for c in first.changes} == {"add"}
    service = next(c for c in first.changes if c.kind == "Service")
    assert "clusterIP:" not in service.diff
    assert "first-secret" not in next(c for c in first.changes if c.kind == "Secret").diff
    second = await plan_upgrade(mgr)
    assert second.digest == first.digest

    before = await live_objects(cluster, first)
    done = await mgr.install_release()
    assert not done.failed, done.error
    after = await live_objects(cluster, first)
    assert observed(first, before, after) == list(first.changes)


async def test_the_dry_runs_act_as_the_releases_service_account(
    engine: Engine,
    cluster: Cluster,
    kube: client.ApiClient,
    namespace: str,
    chart_dir: Path,
    installed: Manager,
) -> None:
    clusters = Clusters(cluster)
    account = ServiceAccountRef(namespace=namespace, name="default")
    mgr = await manager(engine, cluster, release("web", namespace), chart_dir, {"message": "x"})
    mgr.cluster = await clusters.get(None, account)  # synced as admin; planned as the account
    try:
        with pytest.raises(PreviewError) as refused:
            await plan_upgrade(mgr)
        assert f"system:serviceaccount:{namespace}:default" in str(refused.value)
        assert "forbidden" in str(refused.value)

        rules = [{"apiGroups": [""], "resources": RESOURCES, "verbs": ["get", "patch"]}]
        role = {"metadata": {"name": "preview"}, "rules": rules}
        binding = {
            "metadata": {"name": "preview"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "preview"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        }
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
        await rest.request(kube, "POST", f"{rbac}/roles", body=role)
        await rest.request(kube, "POST", f"{rbac}/rolebindings", body=binding)

        async def granted() -> Plan | None:
            try:
                return await plan_upgrade(mgr)
            except PreviewError:
                return None

        plan = await eventually(granted, within=10, what="the account's role to take effect")
        assert [c.ref for c in plan.changes] == [f"ConfigMap/{namespace}/web-config"]
    finally:
        await clusters.close()


RESOURCES = ["configmaps", "secrets", "services"]


async def test_preserve_values_plans_with_the_stored_values(
    engine: Engine, cluster: Cluster, namespace: str, chart_dir: Path
) -> None:
    first = await manager(engine, cluster, release("keep", namespace), chart_dir, {"message": "m1"})
    assert not (await first.install_release()).failed
    reset = await manager(engine, cluster, release("keep", namespace), chart_dir, {})
    preserve = release("keep", namespace, upgrade={"preserveValues": True})
    kept = await manager(engine, cluster, preserve, chart_dir, {})
    assert [c.name for c in (await plan_upgrade(reset)).changes] == ["keep-config"]
    assert (await plan_upgrade(kept)).empty


async def test_after_a_failed_upgrade_deletions_are_against_the_deployed_release(
    engine: Engine, cluster: Cluster, namespace: str, chart_dir: Path, installed: Manager
) -> None:
    """As Helm: an upgrade replaces the newest deployed release, not the failed one after it,
    so what the failed one dropped but never deleted is still deleted by the next upgrade."""
    hr = release("web", namespace)
    failing = await manager(engine, cluster, hr, chart_dir, {"extra": False, "invalid": True})
    assert (await failing.upgrade_release()).failed
    mgr = await manager(engine, cluster, hr, chart_dir, {"extra": False})
    assert mgr.release is not None
    assert (mgr.release.version, mgr.release.status) == (2, "failed")
    plan = await plan_upgrade(mgr)
    assert [(c.action, c.name) for c in plan.changes] == [("remove", "web-extra")]
