"""Bad input gives a typed error that names the field, never a crash of the process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from hack.testkit import charts
from internal.helm import (
    ChartLoadError,
    ClusterAccessError,
    Engine,
    InternalError,
    InvalidRequestError,
    PostRenderError,
)
from internal.helm.errors import error_for
from internal.helm.models import (
    ClusterTarget,
    DiagnoseRequest,
    InstallRequest,
    Kustomize,
    Patch,
    PostRenderer,
    RenderRequest,
    Response,
    Selector,
)

pytestmark = pytest.mark.engine


async def _raw(engine: Engine, request: bytes) -> Response:
    return Response.model_validate_json(await engine.call_raw(request))


def _install(chart: str = "/nonexistent", **extra: Any) -> dict[str, Any]:
    return {"releaseName": "r", "namespace": "ns", "chart": chart, **extra}


@pytest.mark.parametrize(
    ("request_bytes", "field", "needle"),
    [
        (b'{"op": "install", "install": {', "request", "malformed JSON"),
        (b"\xff\xfe", "request", "UTF-8"),
        (b"[1, 2]", "request", "must be an object"),
        (b'{"op": "install"} {"op": "x"}', "request", "trailing data"),
        (b'{"op": "explode"}', "op", "unknown op"),
        (b'{"install": {}}', "op", "missing"),
        (b'{"op": "install"}', "install", "missing"),
        (
            json.dumps({"op": "install", "install": _install(), "upgrade": {}}).encode(),
            "upgrade",
            "not allowed",
        ),
        (
            json.dumps({"op": "install", "install": _install(waitStrategyy="watcher")}).encode(),
            "install.waitStrategyy",
            "unknown field",
        ),
        (
            json.dumps(
                {
                    "op": "install",
                    "install": _install(
                        postRenderers=[{"kustomize": {"patches": [{"patch": "x", "tarGet": {}}]}}]
                    ),
                }
            ).encode(),
            "install.postRenderers[0].kustomize.patches[0].tarGet",
            "unknown field",
        ),
        (
            json.dumps({"op": "install", "install": _install(timeout=300)}).encode(),
            "install.timeout",
            "expected a string",
        ),
        (
            json.dumps({"op": "install", "install": _install(timeout="soon")}).encode(),
            "install.timeout",
            "not a duration",
        ),
        (
            json.dumps({"op": "install", "install": _install(waitStrategy="sometimes")}).encode(),
            "install.waitStrategy",
            "watcher, legacy or hookOnly",
        ),
        (
            json.dumps({"op": "install", "install": _install(values=[1])}).encode(),
            "install.values",
            "expected an object",
        ),
        (
            json.dumps({"op": "install", "install": _install(releaseName="Not_Valid")}).encode(),
            "install.releaseName",
            "",
        ),
        (
            json.dumps({"op": "render", "render": _install(), "cluster": {}}).encode(),
            "cluster",
            "never talks to a cluster",
        ),
    ],
)
async def test_invalid_requests_name_the_field(
    engine: Engine, request_bytes: bytes, field: str, needle: str
) -> None:
    resp = await _raw(engine, request_bytes)
    assert not resp.ok
    assert resp.error is not None
    assert resp.error.code == "InvalidRequest"
    assert resp.error.field == field
    assert needle in resp.error.message
    exc = error_for(resp.error, op=resp.op)
    assert isinstance(exc, InvalidRequestError)
    assert exc.field == field


async def test_python_models_reject_unknown_options_before_the_shim() -> None:
    with pytest.raises(pydantic.ValidationError, match="wait_strategyy"):
        InstallRequest(release_name="r", namespace="n", chart="c", wait_strategyy="x")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="wait_strategy"):
        InstallRequest(release_name="r", namespace="n", chart="c", wait_strategy="sometimes")  # type: ignore[arg-type]


async def test_a_corrupt_chart_archive(engine: Engine, tmp_path: Path) -> None:
    corrupt = tmp_path / "demo-0.1.0.tgz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    with pytest.raises(ChartLoadError) as err:
        await engine.load_chart(corrupt)
    assert err.value.field == "loadChart.path"
    with pytest.raises(ChartLoadError) as err:
        await engine.render(RenderRequest(release_name="r", namespace="n", chart=corrupt))
    assert err.value.field == "render.chart"
    with pytest.raises(ChartLoadError) as err:
        await engine.load_chart(tmp_path / "missing.tgz")
    assert "no such file" in err.value.message


async def test_load_chart_reads_metadata_values_and_dependencies(
    engine: Engine, chart_root: Path, tmp_path: Path
) -> None:
    sub = charts.make_chart(chart_root, name="sub", version="1.2.3")
    parent = charts.make_chart(
        chart_root,
        name="parent",
        version="2.0.0",
        app_version="9.9",
        values={"replicas": 3, "nested": {"a": True}},
        dependencies=[
            {"name": "sub", "version": "1.2.3", "repository": "file://../sub"},
            {"name": "absent", "version": "0.1.0", "repository": "https://example.com/charts"},
        ],
        crds={"c.yaml": charts.crd("example.helmward.io", "Widget", "widgets")},
        schema={"type": "object"},
    )
    (parent / "charts").mkdir()
    archive = charts.package(sub, parent / "charts")
    assert archive.name == "sub-1.2.3.tgz"
    for path in (parent, charts.package(parent, tmp_path)):
        info = await engine.load_chart(path)
        assert info.metadata["name"] == "parent"
        assert info.metadata["version"] == "2.0.0"
        assert info.metadata["appVersion"] == "9.9"
        assert info.values == {"replicas": 3, "nested": {"a": True}}
        assert [d.name for d in info.dependencies] == ["sub", "absent"]
        assert [(s.name, s.version) for s in info.subcharts] == [("sub", "1.2.3")]
        assert info.missing_dependencies == ["absent"]
        assert info.crds == ["parent/crds/c.yaml"]
        assert info.json_schema == {"type": "object"}


async def test_bad_post_renderers_name_the_field(
    engine: Engine, target: ClusterTarget, namespace: str, chart_root: Path
) -> None:
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})

    def with_patch(patch: str, selector: Selector | None) -> list[PostRenderer]:
        return [PostRenderer(kustomize=Kustomize(patches=[Patch(patch=patch, target=selector)]))]

    unparseable = with_patch("{{{ neither yaml nor json", Selector(kind="ConfigMap"))
    with pytest.raises(PostRenderError) as err:
        await engine.render(
            RenderRequest(release_name="r", namespace="n", chart=chart, post_renderers=unparseable)
        )
    assert err.value.field == "render.postRenderers[0].kustomize.patches[0].patch"

    json_without_target = with_patch('[{"op": "remove", "path": "/data"}]', None)
    with pytest.raises(PostRenderError) as err:
        await engine.render(
            RenderRequest(
                release_name="r", namespace="n", chart=chart, post_renderers=json_without_target
            )
        )
    assert err.value.field == "render.postRenderers[0].kustomize.patches[0].target"

    bad_selector = with_patch(
        '[{"op": "remove", "path": "/data"}]', Selector(label_selector="tier in (a")
    )
    with pytest.raises(PostRenderError) as err:
        await engine.render(
            RenderRequest(release_name="r", namespace="n", chart=chart, post_renderers=bad_selector)
        )
    assert err.value.field == "render.postRenderers[0].kustomize.patches[0].target.labelSelector"

    typo = with_patch('[{"op": "remove", "path": "/data"}]', Selector(kind="ConfigMapp"))
    with pytest.raises(PostRenderError) as err:
        await engine.render(
            RenderRequest(release_name="r", namespace="n", chart=chart, post_renderers=typo)
        )
    assert err.value.field == "render.postRenderers[0].kustomize.patches[0].target.kind"
    assert "ConfigMapp" in err.value.message

    # Against a cluster the kind is checked too, and nothing is installed or stored.
    with pytest.raises(PostRenderError) as err:
        await engine.install(
            InstallRequest(release_name="r", namespace=namespace, chart=chart, post_renderers=typo),
            cluster=target,
        )
    assert err.value.field == "install.postRenderers[0].kustomize.patches[0].target.kind"
    assert err.value.observations == []


async def test_missing_or_broken_cluster_access(engine: Engine, chart_root: Path) -> None:
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})
    request = InstallRequest(release_name="r", namespace="n", chart=chart)
    with pytest.raises(ClusterAccessError) as err:
        await engine.install(request, cluster=ClusterTarget())
    assert err.value.field == "cluster.kubeconfig"
    assert "missing" in err.value.message

    with pytest.raises(ClusterAccessError) as err:
        await engine.install(request, cluster=ClusterTarget(kubeconfig="{not: [a kubeconfig"))
    assert err.value.field == "cluster.kubeconfig"

    resp = await _raw(engine, json.dumps({"op": "install", "install": request.wire()}).encode())
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("ClusterAccess", "cluster")


async def test_unknown_context(engine: Engine, target: ClusterTarget, chart_root: Path) -> None:
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})
    with pytest.raises(ClusterAccessError) as err:
        await engine.install(
            InstallRequest(release_name="r", namespace="n", chart=chart),
            cluster=target.model_copy(update={"context": "nowhere"}),
        )
    assert err.value.field == "cluster.context"


async def test_a_go_panic_is_an_internal_error_not_a_crash(engine: Engine) -> None:
    with pytest.raises(InternalError) as err:
        await engine.diagnose(DiagnoseRequest(panic="boom"))
    assert "boom" in err.value.message
    assert any("panic: boom" in line for line in err.value.logs)
    # The process and the library are still fine.
    assert (await engine.stats()).total_calls > 0
