"""Post-rendering: kustomize patches (strategic merge, JSON6902) and images, commonMetadata and
the origin labels, in that order, visible on the live objects and in the stored manifest; hooks
follow postRenderStrategy; render gives the same output without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from hack.testkit import charts
from internal.helm import Engine, PostRenderError, ValidationError
from internal.helm.models import (
    ClusterTarget,
    CommonMetadata,
    Image,
    Kustomize,
    Origin,
    Patch,
    PostRenderer,
    RenderRequest,
    Selector,
    UpgradeRequest,
)
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

NAME = "pr"

SMP_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ignored-with-a-target
  annotations:
    patched-by: smp
spec:
  replicas: 2
"""

JSON6902_CONFIGMAP = '[{"op": "add", "path": "/data/extra", "value": "json6902"}]'

SMP_SERVICE_BY_NAME = f"""\
apiVersion: v1
kind: Service
metadata:
  name: {NAME}
  labels:
    second: "yes"
"""

POST_RENDERERS = [
    PostRenderer(
        kustomize=Kustomize(
            patches=[
                Patch(
                    patch=SMP_DEPLOYMENT,
                    target=Selector(group="apps", version="v1", kind="Deployment", name=NAME),
                ),
                Patch(
                    patch=JSON6902_CONFIGMAP,
                    target=Selector(kind="ConfigMap", label_selector="tier=config"),
                ),
            ],
            images=[Image(name="nginx", new_name="registry.example/nginx", new_tag="1.28")],
        )
    ),
    # The second entry runs on the output of the first.
    PostRenderer(kustomize=Kustomize(patches=[Patch(patch=SMP_SERVICE_BY_NAME)])),
]

COMMON = CommonMetadata(
    labels={"team": "platform", "helm.toolkit.fluxcd.io/name": "impostor"},
    annotations={"owner": "ops@example.com"},
)
ORIGIN = Origin(name="my-hr", namespace="flux-system")


def _chart(root: Path) -> Path:
    return charts.make_chart(
        root,
        templates={
            "deployment.yaml": charts.DEPLOYMENT,
            "configmap.yaml": charts.CONFIGMAP,
            "service.yaml": charts.SERVICE,
            "setup.yaml": charts.hook_configmap("setup", "pre-install,pre-upgrade"),
        },
    )


def _common_and_origin(meta: client.V1ObjectMeta) -> None:
    assert meta.labels["team"] == "platform"
    assert meta.labels["helm.toolkit.fluxcd.io/name"] == "my-hr", "origin labels win"
    assert meta.labels["helm.toolkit.fluxcd.io/namespace"] == "flux-system"
    assert meta.annotations["owner"] == "ops@example.com"


def _docs(manifest: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
    for d in docs:
        assert isinstance(d, dict)
        assert d.get("kind"), f"a document without a kind: {d}"
    return docs


async def test_post_renderers_patch_live_objects_and_the_stored_manifest(
    releases: Releases,
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
) -> None:
    chart = _chart(chart_root)
    out = await releases.install(
        NAME, chart, post_renderers=POST_RENDERERS, common_metadata=COMMON, origin=ORIGIN
    )
    assert out.result.release is not None
    assert out.result.release.status == "deployed"

    dep = await apps.read_namespaced_deployment(NAME, namespace)
    assert dep.spec.replicas == 2
    assert dep.metadata.annotations["patched-by"] == "smp"
    assert dep.spec.template.spec.containers[0].image == "registry.example/nginx:1.28"
    _common_and_origin(dep.metadata)
    # commonMetadata touches metadata only, never selectors or pod templates.
    assert "team" not in dep.spec.selector.match_labels
    assert "team" not in (dep.spec.template.metadata.labels or {})

    cm = await core.read_namespaced_config_map(f"{NAME}-config", namespace)
    assert cm.data == {"message": "hello", "extra": "json6902"}
    _common_and_origin(cm.metadata)

    svc = await core.read_namespaced_service(NAME, namespace)
    assert svc.metadata.labels["second"] == "yes"
    _common_and_origin(svc.metadata)

    # combined (the default): hooks are post-rendered with the templates.
    setup = await core.read_namespaced_config_map("setup", namespace)
    _common_and_origin(setup.metadata)

    stored = await releases.get(NAME)
    docs = {d["kind"]: d for d in _docs(stored.result.release.manifest)}
    assert set(docs) == {"Deployment", "ConfigMap", "Service"}
    assert docs["Deployment"]["spec"]["replicas"] == 2
    containers = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "registry.example/nginx:1.28"
    assert docs["ConfigMap"]["data"]["extra"] == "json6902"
    assert docs["Service"]["metadata"]["labels"]["second"] == "yes"
    for d in docs.values():
        assert d["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "my-hr"
        assert "postrenderer.helm.sh/postrender-filename" not in d["metadata"].get(
            "annotations", {}
        )
    [setup_hook] = [h for h in stored.result.release.hooks if h.name == "setup"]
    assert yaml.safe_load(setup_hook.manifest)["metadata"]["labels"]["team"] == "platform"

    # nohooks: the templates are still post-rendered, the hooks are not.
    await releases.upgrade(
        NAME,
        chart,
        post_renderers=POST_RENDERERS,
        common_metadata=COMMON,
        origin=ORIGIN,
        post_render_strategy="nohooks",
    )
    setup = await core.read_namespaced_config_map("setup", namespace)
    assert "team" not in (setup.metadata.labels or {})
    cm = await core.read_namespaced_config_map(f"{NAME}-config", namespace)
    _common_and_origin(cm.metadata)

    # separate: hooks are post-rendered again, in a stream of their own. A strategic-merge
    # patch without a target names its object, and the hooks stream does not hold it.
    separate = UpgradeRequest(
        release_name=NAME,
        namespace=namespace,
        chart=chart,
        post_renderers=POST_RENDERERS,
        common_metadata=COMMON,
        origin=ORIGIN,
        post_render_strategy="separate",
    )
    with pytest.raises(PostRenderError, match="on hooks") as refused:
        await engine.upgrade(separate, cluster=target)
    assert refused.value.field == "upgrade.postRenderers[1].kustomize"
    assert refused.value.observations == [], "nothing was stored"
    await engine.upgrade(
        separate.model_copy(update={"post_renderers": POST_RENDERERS[:1]}), cluster=target
    )
    setup = await core.read_namespaced_config_map("setup", namespace)
    _common_and_origin(setup.metadata)


async def test_render_post_renders_without_a_cluster(
    releases: Releases, engine: Engine, chart_root: Path
) -> None:
    chart = _chart(chart_root)
    rendered = await engine.render(
        RenderRequest(
            release_name=NAME,
            namespace="offline",
            chart=chart,
            values={"message": "rendered"},
            post_renderers=POST_RENDERERS,
            common_metadata=COMMON,
            origin=ORIGIN,
        )
    )
    docs = {d["kind"]: d for d in _docs(rendered.manifest)}
    assert set(docs) == {"Deployment", "ConfigMap", "Service"}
    assert docs["ConfigMap"]["data"] == {"message": "rendered", "extra": "json6902"}
    assert docs["Deployment"]["spec"]["replicas"] == 2
    assert [h.name for h in rendered.hooks] == ["setup"]
    assert "helm.toolkit.fluxcd.io/name: 'my-hr'" in rendered.hooks[0].manifest

    bare = await engine.render(
        RenderRequest(release_name=NAME, namespace="offline", chart=chart, disable_hooks=True)
    )
    assert bare.hooks == []
    assert "registry.example" not in bare.manifest

    with_crds = releases.chart(
        name="withcrds",
        crds={"w.yaml": charts.crd("example.helmward.io", "Widget", "widgets")},
        templates={
            "w.yaml": "apiVersion: example.helmward.io/v1\nkind: Widget\nmetadata:\n  name: w\n"
        },
    )
    patched = await engine.render(
        RenderRequest(
            release_name="w",
            namespace="offline",
            chart=with_crds,
            include_crds=True,
            post_renderers=[
                PostRenderer(
                    kustomize=Kustomize(
                        patches=[
                            Patch(
                                patch='[{"op": "add", "path": "/spec", "value": {"size": 1}}]',
                                target=Selector(kind="Widget"),
                            )
                        ]
                    )
                )
            ],
        )
    )
    kinds = [d["kind"] for d in _docs(patched.manifest)]
    assert kinds == ["CustomResourceDefinition", "Widget"]
    assert _docs(patched.manifest)[1]["spec"] == {"size": 1}

    too_new = releases.chart(name="toonew", kube_version=">=1.99.0")
    with pytest.raises(ValidationError, match="kubeVersion"):
        await engine.render(
            RenderRequest(
                release_name="n", namespace="offline", chart=too_new, kube_version="v1.36.3"
            )
        )
