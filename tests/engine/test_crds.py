"""The CRD policy of install and upgrade (Skip, Create, CreateReplace), checked on the API server;
the objects of crds/ that load_chart reports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit import charts
from internal.helm import (
    ActionError,
    Engine,
    HelmError,
    InvalidRequestError,
    ReleaseNotFoundError,
)
from internal.helm.errors import error_for
from internal.helm.models import (
    ClusterTarget,
    GetRequest,
    InstallRequest,
    Response,
)
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine


@pytest.fixture
async def ext(kube: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(kube)


@pytest.fixture
def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


@pytest.fixture
async def crd_group(
    namespace: str, ext: client.ApiextensionsV1Api
) -> AsyncIterator[Callable[[str], str]]:
    """A CRD group of this test's own (`<prefix>-<namespace>.helmward.io`); every CRD in the
    groups handed out is deleted afterwards."""
    groups: list[str] = []

    def make(prefix: str) -> str:
        groups.append(f"{prefix}-{namespace}.helmward.io")
        return groups[-1]

    yield make
    found = await ext.list_custom_resource_definition()
    for item in found.items:
        if item.spec.group in groups:
            await ext.delete_custom_resource_definition(item.metadata.name)


async def read_crd(ext: client.ApiextensionsV1Api, name: str) -> Any:
    """The CRD, or None when there is none."""
    try:
        return await ext.read_custom_resource_definition(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def versions_of(crd: Any) -> list[str]:
    return [v.name for v in crd.spec.versions]


def columns_of(crd: Any) -> list[str]:
    return [c.name for c in crd.spec.versions[0].additional_printer_columns or []]


def custom_resource(group: str, kind: str, name: str, version: str = "v1") -> str:
    doc = {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name}}
    return yaml.safe_dump({**doc, "spec": {"size": 1}}, sort_keys=False)


@dataclass(frozen=True)
class World(Releases):
    """What a CRD test works with: releases, the cluster's APIs, and CRD groups of its own."""

    ext: client.ApiextensionsV1Api
    custom: client.CustomObjectsApi
    core: client.CoreV1Api
    new_group: Callable[[str], str]

    async def crd(self, name: str) -> Any:
        """The CRD `name`, or None when there is none."""
        return await read_crd(self.ext, name)

    async def custom_object(self, group: str, version: str, plural: str, name: str) -> Any:
        return await self.custom.get_namespaced_custom_object(
            group, version, self.namespace, plural, name
        )


@pytest.fixture
def world(
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
    ext: client.ApiextensionsV1Api,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    crd_group: Callable[[str], str],
) -> World:
    return World(engine, target, namespace, chart_root, ext, custom, core, crd_group)


def deployed(out: Any) -> Any:
    """The release an action made, checked deployed."""
    assert out.result.release is not None
    assert out.result.release.status == "deployed"
    return out.result.release


async def test_install_skip_installs_no_crd(world: World) -> None:
    group = world.new_group("skip")
    chart = world.chart(
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets")},
        templates={"configmap.yaml": charts.CONFIGMAP},
    )
    deployed(await world.install("skip", chart, crds="Skip"))
    assert await world.crd(f"widgets.{group}") is None


async def test_install_create_replace_creates_and_updates(world: World) -> None:
    group = world.new_group("ir")
    # Someone else made the Widget CRD already, in an older shape.
    await world.ext.create_custom_resource_definition(
        yaml.safe_load(charts.crd(group, "Widget", "widgets"))
    )
    stray = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray"}, "data": {}}
    )
    chart = world.chart(
        crds={
            "widget.yaml": charts.crd(group, "Widget", "widgets", columns=("size",)),
            # Two documents: a CRD, then an object that has no business in crds/.
            "gadget.yaml": charts.crd(group, "Gadget", "gadgets") + "---\n" + stray,
        },
        templates={
            "widget.yaml": custom_resource(group, "Widget", "w1"),
            "gadget.yaml": custom_resource(group, "Gadget", "g1"),
        },
    )
    out = await world.install("ir", chart, crds="CreateReplace")
    release = deployed(out)
    widgets = await world.crd(f"widgets.{group}")
    assert columns_of(widgets) == ["size"], "the existing CRD is replaced by the chart's"
    gadgets = await world.crd(f"gadgets.{group}")
    assert gadgets is not None, "the missing CRD is created"
    assert any(c.type == "Established" and c.status == "True" for c in gadgets.status.conditions)
    await world.custom_object(group, "v1", "widgets", "w1")
    await world.custom_object(group, "v1", "gadgets", "g1")
    with pytest.raises(ApiException) as missing:
        await world.core.read_namespaced_config_map("stray", world.namespace)
    assert missing.value.status == 404, "only CustomResourceDefinitions of crds/ are applied"
    assert any("ignoring ConfigMap stray" in line for line in out.logs)
    assert "CustomResourceDefinition" not in release.manifest


async def test_upgrade_create_adds_new_crds_and_leaves_existing_ones(world: World) -> None:
    group = world.new_group("uc")
    v1 = world.chart(
        version="0.1.0",
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets")},
        templates={"configmap.yaml": charts.CONFIGMAP},
    )
    changed_widget = charts.crd(group, "Widget", "widgets", versions=("v1", "v2"), columns=("x",))
    v2 = world.chart(
        version="0.2.0",
        crds={
            "widget.yaml": changed_widget,
            "gadget.yaml": charts.crd(group, "Gadget", "gadgets"),
        },
        templates={
            "configmap.yaml": charts.CONFIGMAP,
            "gadget.yaml": custom_resource(group, "Gadget", "g1"),
        },
    )
    await world.install("uc", v1)
    before = await world.crd(f"widgets.{group}")
    assert versions_of(before) == ["v1"]

    # The default of the wire request is Skip: Helm's upgrade alone creates no CRD, so a
    # template using a kind of a new CRD cannot apply.
    with pytest.raises(HelmError, match="Gadget"):
        await world.upgrade("uc", v2)
    assert await world.crd(f"gadgets.{group}") is None

    deployed(await world.upgrade("uc", v2, crds="Create"))
    gadgets = await world.crd(f"gadgets.{group}")
    assert gadgets is not None, "a CRD new in the chart is created"
    await world.custom_object(group, "v1", "gadgets", "g1")
    after = await world.crd(f"widgets.{group}")
    assert versions_of(after) == ["v1"], "an existing CRD is left as it is"
    assert columns_of(after) == []
    assert after.metadata.resource_version == before.metadata.resource_version


@pytest.mark.parametrize("server_side_apply", ["auto", "false"])
async def test_upgrade_create_replace_updates_existing_crds(
    world: World, server_side_apply: Any
) -> None:
    group = world.new_group("ur")
    v1 = world.chart(
        version="0.1.0",
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets")},
        templates={"widget.yaml": custom_resource(group, "Widget", "w1")},
    )
    v2 = world.chart(
        version="0.2.0",
        crds={
            "widget.yaml": charts.crd(
                group, "Widget", "widgets", versions=("v1", "v2"), columns=("size",)
            ),
            "gadget.yaml": charts.crd(group, "Gadget", "gadgets"),
        },
        templates={
            "widget.yaml": custom_resource(group, "Widget", "w1"),
            # A version the existing CRD gains in this upgrade, and a kind of a new CRD.
            "widget2.yaml": custom_resource(group, "Widget", "w2", version="v2"),
            "gadget.yaml": custom_resource(group, "Gadget", "g1"),
        },
    )
    policy = {"crds": "CreateReplace", "server_side_apply": server_side_apply}
    await world.install("ur", v1)
    out = await world.upgrade("ur", v2, **policy)
    deployed(out)
    widgets = await world.crd(f"widgets.{group}")
    assert versions_of(widgets) == ["v1", "v2"]
    assert columns_of(widgets) == ["size"]
    await world.custom_object(group, "v2", "widgets", "w2")
    await world.custom_object(group, "v1", "gadgets", "g1")
    assert any("updated CustomResourceDefinition widgets." in line for line in out.logs)
    assert any("created CustomResourceDefinition gadgets." in line for line in out.logs)

    # An upgrade whose chart drops a CRD deletes nothing.
    v3 = world.chart(
        version="0.3.0",
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets", versions=("v1", "v2"))},
        templates={"configmap.yaml": charts.CONFIGMAP},
    )
    await world.upgrade("ur", v3, **policy)
    assert await world.crd(f"gadgets.{group}") is not None
    widgets = await world.crd(f"widgets.{group}")
    assert columns_of(widgets) == []

    # CRDs already as the chart has them are not written again, nor waited for.
    again = await world.upgrade("ur", v3, **policy)
    assert any("is up to date" in line for line in again.logs)
    assert not any(" established" in line for line in again.logs)
    after = await world.crd(f"widgets.{group}")
    assert after.metadata.resource_version == widgets.metadata.resource_version


async def test_a_crd_that_cannot_be_updated_stops_the_install(world: World) -> None:
    group = world.new_group("bad")
    await world.ext.create_custom_resource_definition(
        yaml.safe_load(charts.crd(group, "Widget", "widgets"))
    )
    # The scope of a CRD is immutable.
    chart = world.chart(
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets", scope="Cluster")},
        templates={"configmap.yaml": charts.CONFIGMAP},
    )
    with pytest.raises(ActionError) as failed:
        await world.install("bad", chart, crds="CreateReplace")
    assert f"failed to update CustomResourceDefinition widgets.{group}: " in failed.value.message
    assert failed.value.observations == [], "the install did not run"
    with pytest.raises(ReleaseNotFoundError):
        await world.engine.get(
            GetRequest(release_name="bad", namespace=world.namespace), cluster=world.target
        )
    crd = await world.crd(f"widgets.{group}")
    assert crd.spec.scope == "Namespaced"


@pytest.mark.parametrize("op", ["install", "upgrade"])
async def test_a_bad_crds_policy_is_refused(engine: Engine, op: str) -> None:
    request = {"releaseName": "r", "namespace": "ns", "chart": "/nonexistent", "crds": "Replace"}
    resp = Response.model_validate_json(
        await engine.call_raw(json.dumps({"op": op, op: request}).encode())
    )
    assert resp.error is not None
    exc = error_for(resp.error, op=resp.op)
    assert isinstance(exc, InvalidRequestError)
    assert exc.field == f"{op}.crds"
    assert "Skip, Create or CreateReplace" in exc.message
    with pytest.raises(pydantic.ValidationError, match="crds"):
        InstallRequest(release_name="r", namespace="n", chart="c", crds="Replace")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="skip_crds"):
        InstallRequest(release_name="r", namespace="n", chart="c", skip_crds=True)  # type: ignore[call-arg]


async def test_load_chart_reports_crd_objects(engine: Engine, chart_root: Path) -> None:
    sub = charts.make_chart(
        chart_root,
        name="sub",
        crds={"gadget.json": json.dumps(yaml.safe_load(charts.crd("s.io", "Gadget", "gadgets")))},
    )
    stray = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}})
    parent = charts.make_chart(
        chart_root,
        name="parent",
        dependencies=[{"name": "sub", "version": "0.1.0", "repository": "file://../sub"}],
        crds={"widget.yaml": "---\n" + charts.crd("p.io", "Widget", "widgets") + "---\n" + stray},
    )
    (parent / "charts").mkdir()
    charts.package(sub, parent / "charts")
    info = await engine.load_chart(parent)
    assert info.crds == ["parent/crds/widget.yaml", "parent/charts/sub/crds/gadget.json"]
    assert [o.wire() for o in info.crd_objects] == [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "name": "widgets.p.io",
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "s"},
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "name": "gadgets.s.io",
        },
    ]
    plain = await engine.load_chart(charts.make_chart(chart_root, name="plain"))
    assert plain.crds == []
    assert plain.crd_objects == []


async def test_crds_helm_creates_are_served_before_the_manifest_is_mapped(world: World) -> None:
    """Install with Create, where Helm creates the CRDs itself: discovery may list a new kind a
    moment after its CRD is established (more so while other CRDs come and go), and a kind the
    REST mapper just failed to find is not looked up again at once. The engine waits for
    discovery before Helm reads the capabilities and maps the manifest."""
    for i in range(5):
        group = world.new_group(f"h{i}")
        for j in range(4):
            churn = charts.crd(f"c{j}-{group}", "Churn", "churns")
            await world.ext.create_custom_resource_definition(yaml.safe_load(churn))
        for j in range(4):
            await world.ext.delete_custom_resource_definition(f"churns.c{j}-{group}")
        unknown = world.chart(
            name=f"unknown{i}", templates={"x.yaml": custom_resource(group, "Nothing", "x")}
        )
        with pytest.raises(HelmError, match="Nothing"):
            await world.install(f"unknown{i}", unknown)
        chart = world.chart(
            name=f"helm{i}",
            crds={"widget.yaml": charts.crd(group, "Widget", "widgets")},
            templates={"widget.yaml": custom_resource(group, "Widget", "w")},
        )
        deployed(await world.install(f"helm{i}", chart))
