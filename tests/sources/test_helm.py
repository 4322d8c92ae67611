"""HelmRepository (HTTPS, basic auth, TLS, size cap) and HelmChart from it, against a real
chart repository made with the helm CLI."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from controller.sources.driver import reconcile_object
from hack.testkit.chart_server import CA, ChartServer
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_index, helm_package
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from tests.sources.conftest import Sources, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources


@pytest.fixture
async def chart_repo(
    tmp_path: Path, control_plane: ControlPlane
) -> AsyncIterator[tuple[ChartServer, CA]]:
    """An HTTPS chart repository with basic auth, holding podinfo 6.0.0, 6.0.3, 6.1.0-rc.1
    (packaged and indexed by helm)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    src = tmp_path / "src"
    for version in ("6.0.0", "6.0.3", "6.1.0-rc.1"):
        d = write_chart(src / version, "podinfo", version)
        (d / "values-prod.yaml").write_text("replicas: 3\nprod: true\n")
        helm_package(control_plane.helm, d, repo)
    ca = CA()
    server = ChartServer(repo, username="flux", password="s3cret", tls=ca.server_context())
    await server.start()
    helm_index(control_plane.helm, repo, server.url)
    try:
        yield server, ca
    finally:
        await server.stop()


async def _repo(
    sources: Sources, server: ChartServer, ca: CA, name: str = "charts", **spec: object
) -> None:
    await sources.secret(f"{name}-auth", {"username": "flux", "password": "s3cret"})
    await sources.secret(f"{name}-tls", {"ca.crt": ca.pem})
    auth = source_spec(server.url, secret=f"{name}-auth", cert_secret=f"{name}-tls", **spec)
    await sources.apply("HelmRepository", name, auth)


async def _chart(sources: Sources, name: str, version: str, **spec: object) -> None:
    chart = chart_spec("podinfo", "HelmRepository", "charts", version=version, **spec)
    await sources.apply("HelmChart", name, chart)


async def test_helmrepository_ready_with_index_artifact(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    server, ca = chart_repo
    await _repo(sources, server, ca)
    obj = await sources.ready("HelmRepository", "charts")
    index = (server.root / "index.yaml").read_bytes()
    art = obj["status"]["artifact"]
    # The revision is the digest of the index as fetched (source-controller v1.9).
    assert art["revision"] == "sha256:" + hashlib.sha256(index).hexdigest()
    hexdigest = hashlib.sha256(index).hexdigest()
    assert art["path"] == f"helmrepository/{sources.namespace}/charts/index-{hexdigest}.yaml"
    data = await sources.fetch_artifact(obj)
    assert yaml.safe_load(data)["entries"]["podinfo"]
    assert obj["status"]["url"].endswith(f"/helmrepository/{sources.namespace}/charts/index.yaml")
    assert cond(obj, "ArtifactInStorage")["status"] == "True"
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert "flux:s3cret" not in str(server.auth_seen)  # sanity: the header is encoded
    assert server.auth_seen["index.yaml"]


async def _refused_repository(sources: Sources, server: ChartServer, ca: CA) -> dict[str, Any]:
    """The HelmRepository "bad", with a wrong password: failed."""
    await sources.secret("bad-auth", {"username": "flux", "password": "wrong"})
    await sources.secret("tls", {"ca.crt": ca.pem})
    spec = source_spec(server.url, secret="bad-auth", cert_secret="tls")
    await sources.apply("HelmRepository", "bad", spec)
    return await sources.failed("HelmRepository", "bad", "FetchFailed")


async def test_helmrepository_wrong_credentials(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    obj = await _refused_repository(sources, *chart_repo)
    failed = cond(obj, "FetchFailed")
    assert failed["status"] == "True"
    assert failed["reason"] == "AuthenticationFailed"
    assert "401" in failed["message"]
    assert "failed to fetch Helm repository index" in failed["message"]


async def test_repeated_failures_are_one_counted_event(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    """Source events go through the deduplicating recorder: the same failure again bumps the
    count of one Event, reported by source-controller."""
    await _refused_repository(sources, *chart_repo)
    await reconcile_object(sources.ctx, await sources.get("HelmRepository", "bad"))
    core = client.CoreV1Api(sources.kube)

    async def counted() -> client.CoreV1Event | None:
        found = await core.list_namespaced_event(
            sources.namespace, field_selector="involvedObject.name=bad"
        )
        failures = [e for e in found.items if e.reason == "AuthenticationFailed"]
        assert len(failures) == 1, failures
        return failures[0] if failures[0].count >= 2 else None

    event = await eventually(counted, what="the failure counted twice on one Event")
    assert event.type == "Warning"
    assert event.source.component == "source-controller"
    assert event.involved_object.kind == "HelmRepository"
    assert "401" in event.message


async def test_helmrepository_untrusted_certificate(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    server, _ = chart_repo
    await sources.secret("auth", {"username": "flux", "password": "s3cret"})
    await sources.secret("other-ca", {"ca.crt": CA().pem})
    spec = source_spec(server.url, secret="auth", cert_secret="other-ca")
    await sources.apply("HelmRepository", "untrusted", spec)
    obj = await sources.failed("HelmRepository", "untrusted", "FetchFailed")
    failed = cond(obj, "FetchFailed")
    assert "certificate verif" in failed["message"].lower(), failed["message"]


async def test_helmrepository_oversize_index(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    server, ca = chart_repo
    sources.ctx.max_index_size = 200
    await _repo(sources, server, ca, name="big")
    obj = await sources.failed("HelmRepository", "big", "FetchFailed")
    failed = cond(obj, "FetchFailed")
    assert "exceeds the maximum size of 200 bytes" in failed["message"]


async def test_helmchart_from_helmrepository(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    server, ca = chart_repo
    await _repo(sources, server, ca)
    await _chart(sources, "latest", "*")
    await _chart(sources, "exact", "6.0.0")
    await _chart(sources, "pre", ">=6.1.0-0")
    latest = await sources.ready("HelmChart", "latest")
    exact = await sources.ready("HelmChart", "exact")
    pre = await sources.ready("HelmChart", "pre")
    # `*` is the newest stable; prereleases only when the constraint asks.
    assert latest["status"]["artifact"]["revision"] == "6.0.3"
    assert exact["status"]["artifact"]["revision"] == "6.0.0"
    assert pre["status"]["artifact"]["revision"] == "6.1.0-rc.1"
    assert cond(latest, "Ready")["reason"] == "ChartPullSucceeded"
    assert cond(latest, "Ready")["message"] == "pulled 'podinfo' chart with version '6.0.3'"
    data = await sources.fetch_artifact(latest)
    # Unchanged: the artifact is the package the repository serves, byte for byte.
    assert data == (server.root / "podinfo-6.0.3.tgz").read_bytes()
    assert (
        latest["status"]["artifact"]["path"]
        == f"helmchart/{sources.namespace}/latest/podinfo-6.0.3.tgz"
    )
    assert latest["status"]["observedChartName"] == "podinfo"
    # The index was parsed once for the three charts and the repository.
    assert sources.ctx.indexes.parses == 1


async def test_helmchart_values_files(sources: Sources, chart_repo: tuple[ChartServer, CA]) -> None:
    server, ca = chart_repo
    await _repo(sources, server, ca)
    await _chart(sources, "prod", "6.0.x", valuesFiles=["values.yaml", "values-prod.yaml"])
    obj = await sources.ready("HelmChart", "prod")
    gen = obj["metadata"]["generation"]
    assert obj["status"]["artifact"]["revision"] == f"6.0.3+{gen}"
    assert cond(obj, "Ready")["reason"] == "ChartPackageSucceeded"
    data = await sources.fetch_artifact(obj)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        values = yaml.safe_load(tar.extractfile("podinfo/values.yaml").read())  # type: ignore[union-attr]
        chart = yaml.safe_load(tar.extractfile("podinfo/Chart.yaml").read())  # type: ignore[union-attr]
    assert values == {"replicas": 3, "prod": True}
    assert chart["version"] == f"6.0.3+{gen}"
    assert obj["status"]["observedValuesFiles"] == ["values.yaml", "values-prod.yaml"]


async def test_helmchart_missing_chart_and_bad_version(
    sources: Sources, chart_repo: tuple[ChartServer, CA]
) -> None:
    server, ca = chart_repo
    await _repo(sources, server, ca)
    await sources.apply("HelmChart", "missing", chart_spec("nginx", "HelmRepository", "charts"))
    await _chart(sources, "noversion", "7.x")
    await _chart(sources, "garbage", "not-a-version!")
    for name, words in (
        ("missing", "no chart name found"),
        ("noversion", "no 'podinfo' chart with version matching '7.x' found"),
        ("garbage", "invalid version constraint"),
    ):
        obj = await sources.failed("HelmChart", name, "BuildFailed")
        failed = cond(obj, "BuildFailed")
        assert failed["reason"] == "InvalidChartReference"
        assert words in failed["message"], failed["message"]


def _patches(plane: ControlPlane, resource: str) -> float:
    """PATCH requests the API server has answered for `resource`, from its own metrics."""
    import subprocess

    text = subprocess.run(
        [str(plane.kubectl), "--kubeconfig", str(plane.kubeconfig), "get", "--raw", "/metrics"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = 0.0
    for line in text.splitlines():
        wanted = ("apiserver_request_total{", 'verb="PATCH"', f'resource="{resource}"')
        if line.startswith(wanted[0]) and all(w in line for w in wanted[1:]):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_an_idle_reconcile_writes_nothing(
    sources: Sources, chart_repo: tuple[ChartServer, CA], control_plane: ControlPlane
) -> None:
    server, ca = chart_repo
    await _repo(sources, server, ca)
    await _chart(sources, "idle", "6.0.0")
    await sources.ready("HelmChart", "idle")
    for kind, name, resource in (
        ("HelmRepository", "charts", "helmrepositories"),
        ("HelmChart", "idle", "helmcharts"),
    ):
        before = _patches(control_plane, resource)
        await reconcile_object(sources.ctx, await sources.get(kind, name))
        assert _patches(control_plane, resource) == before, f"{kind} status was written"
