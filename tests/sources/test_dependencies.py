"""Dependencies of HelmCharts packaged from a GitRepository, built by Helm's own downloader and
kept in the artifact storage, against an HTTPS chart repository with basic auth and a
distribution registry with htpasswd auth; each case held byte for byte against the stock helm
CLI's `helm dependency build` of the same input."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from controller.metrics.recorder import Recorder
from controller.sources import dependencies
from hack.testkit.dependency_charts import (
    BIG_BYTES,
    CASES,
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    REPO_PASSWORD,
    REPO_USER,
    DependencyWorld,
    package_files,
    side_by_side,
    snapshot,
)
from hack.testkit.git_server import GitHTTPServer, git
from hack.testkit.kube import drop_finalizers
from hack.testkit.launcher import running_source_controllers
from hack.testkit.plane import ControlPlane
from internal.sources.chart import Limits
from tests.sources.conftest import Sources, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> AsyncIterator[DependencyWorld]:
    w = DependencyWorld(tmp_path_factory.mktemp("deps"), control_plane.helm)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


@pytest.fixture(scope="module")
async def git_http(world: DependencyWorld) -> AsyncIterator[GitHTTPServer]:
    """The tree as app.git: main with the 1.0.0 lock of `locked`, branch v2 with the 1.1.0
    lock."""
    work = world.tmp / "git-work"
    shutil.copytree(world.tree, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    git(work, "checkout", "-q", "-b", "v2")
    (work / "charts" / "locked" / "Chart.lock").write_bytes(world.locks["1.1.0"])
    git(work, "commit", "-q", "-am", "lock 1.1.0")
    git(work, "checkout", "-q", "main")
    bare = world.tmp / "git" / "app.git"
    bare.parent.mkdir()
    git(world.tmp, "clone", "-q", "--bare", str(work), str(bare))
    server = GitHTTPServer(world.tmp / "git", username="git", password="pat")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _setup(
    sources: Sources,
    world: DependencyWorld,
    git_http: GitHTTPServer,
    repo_password: str = REPO_PASSWORD,
) -> None:
    """The GitRepository `app` (main) and `app-v2`, and the HelmRepositories whose credentials
    the dependencies are fetched with."""
    await sources.secret("git-auth", {"username": "git", "password": "pat"})
    for name, branch in (("app", "main"), ("app-v2", "v2")):
        spec = source_spec(git_http.url("app.git"), secret="git-auth", ref={"branch": branch})
        await sources.apply("GitRepository", name, spec)
    await sources.secret("repo-auth", {"username": REPO_USER, "password": repo_password})
    await sources.secret("repo-tls", {"ca.crt": world.ca.pem})
    await sources.apply(
        "HelmRepository",
        "deps",
        source_spec(world.repo_url, secret="repo-auth", cert_secret="repo-tls"),
    )
    await sources.secret("reg-auth", {"username": REGISTRY_USER, "password": REGISTRY_PASSWORD})
    await sources.apply(
        "HelmRepository",
        "ocideps",
        source_spec(world.oci_url, secret="reg-auth", type="oci", insecure=True),
    )


async def _chart(
    sources: Sources, name: str, case: str, source: str = "app"
) -> tuple[dict[str, object], bytes]:
    await sources.apply("HelmChart", name, chart_spec(f"charts/{case}", "GitRepository", source))
    obj = await sources.ready("HelmChart", name, within=90)
    return obj, await sources.fetch_artifact(obj)


async def test_every_case_is_what_helm_dependency_build_makes(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    report = []
    for case in CASES:
        _, data = await _chart(sources, case, case)
        ours = package_files(data)
        theirs = await world.cli_build(case)
        report.append(side_by_side(case, snapshot(theirs), snapshot(ours)))
        assert sorted(k for k in ours if k.startswith("charts/")) == sorted(
            k for k in theirs if k.startswith("charts/")
        ), case
        for name, body in theirs.items():
            if name.startswith("charts/"):
                assert ours[name] == body, f"{case}: {name} differs from helm's"
        assert snapshot(ours).lock_digest == snapshot(theirs).lock_digest, case
        assert snapshot(ours).locked == snapshot(theirs).locked, case
    log.info("helm dependency build vs helmward:\n%s", "\n".join(report))
    by_case = {c: snapshot(package_files(await _artifact(sources, c))) for c in CASES}
    assert set(by_case["locked"].charts) == {"dep-1.0.0.tgz"}  # pinned below the newest
    assert set(by_case["http"].charts) == {"dep-1.1.0.tgz"}  # resolved to the newest
    assert set(by_case["alias"].charts) == {"dep-1.0.0.tgz", "dep-1.1.0.tgz"}
    assert set(by_case["oci"].charts) == {"ocidep-0.1.0.tgz"}
    assert set(by_case["v1"].charts) == {"dep-1.0.0.tgz"}
    assert set(by_case["local"].charts) == {"lib-0.1.0.tgz"}
    v1 = package_files(await _artifact(sources, "v1"))
    assert "requirements.lock" in v1
    assert "Chart.lock" not in v1
    # The committed lock is kept as it is.
    assert package_files(await _artifact(sources, "locked"))["Chart.lock"] == world.locks["1.0.0"]
    assert world.server is not None
    assert world.server.auth_seen["dep-1.0.0.tgz"], "fetched with the HelmRepository's auth"


async def _artifact(sources: Sources, name: str) -> bytes:
    return await sources.fetch_artifact(await sources.get("HelmChart", name))


async def test_an_out_of_sync_lock_fails_with_helms_reason(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    await sources.apply("HelmChart", "bad", chart_spec("charts/outofsync", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "bad", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert (
        "the lock file (Chart.lock) is out of sync with the dependencies file"
        in (failed["message"])
    )
    assert "artifact" not in (obj.get("status") or {})


async def test_a_file_dependency_outside_the_source_is_refused(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    before = dependencies.builds
    await sources.apply("HelmChart", "esc", chart_spec("charts/escape", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "esc", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert "dependency 'x': path file://../../../etc leaves the source" in failed["message"]
    assert dependencies.builds == before  # refused before Helm is called


async def test_a_second_helmchart_reuses_the_stored_build(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    sources.ctx.metrics = Recorder(CollectorRegistry())
    built, reused = dependencies.builds, dependencies.reuses
    _, first = await _chart(sources, "one", "locked")
    assert (dependencies.builds - built, dependencies.reuses - reused) == (1, 0)
    stored = list((sources.storage.root / "dependencies" / sources.namespace).iterdir())
    assert len(stored) == 1
    assert (stored[0] / "charts" / "dep-1.0.0.tgz").is_file()
    # The stored set is an internal cache: the artifact server does not serve it.
    rel = f"dependencies/{sources.namespace}/{stored[0].name}/charts/dep-1.0.0.tgz"
    async with aiohttp.ClientSession() as http, http.get(sources.storage.url(rel)) as resp:
        assert resp.status == 404
    _, second = await _chart(sources, "two", "locked")
    assert (dependencies.builds - built, dependencies.reuses - reused) == (1, 1)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    counter = sources.ctx.metrics.dependency_builds
    assert counter.labels("built")._value.get() == 1
    assert counter.labels("reused")._value.get() == 1


async def test_a_changed_lock_rebuilds(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    await _chart(sources, "old", "locked")
    built = dependencies.builds
    _, data = await _chart(sources, "new", "locked", source="app-v2")
    assert dependencies.builds == built + 1
    files = package_files(data)
    assert set(snapshot(files).charts) == {"dep-1.1.0.tgz"}
    assert files["Chart.lock"] == world.locks["1.1.0"]


async def test_an_oci_dependency_needs_the_helmrepository_credentials(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    """Without the OCI HelmRepository the registry is asked anonymously and refuses."""
    await sources.secret("git-auth", {"username": "git", "password": "pat"})
    spec = source_spec(git_http.url("app.git"), secret="git-auth", ref={"branch": "main"})
    await sources.apply("GitRepository", "app", spec)
    await sources.apply("HelmChart", "anon", chart_spec("charts/oci", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "anon", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert "ocidep" in failed["message"]
    assert REGISTRY_PASSWORD not in failed["message"]


async def test_a_dependency_over_the_size_limit_stops_while_it_downloads(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http)
    limit = BIG_BYTES // 3
    sources.ctx.chart_limits = Limits(chart=limit, file=limit)
    sources.ctx.max_index_size = limit
    await sources.apply("HelmChart", "big", chart_spec("charts/big", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "big", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert f"exceeds the maximum size of {limit} bytes" in failed["message"]
    stored = sources.storage.root / "dependencies" / sources.namespace
    assert not stored.exists() or not list(stored.iterdir())


async def test_wrong_repository_credentials_fail_without_leaking_them(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    await _setup(sources, world, git_http, repo_password="not-the-password")
    await sources.apply("HelmChart", "denied", chart_spec("charts/locked", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "denied", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert "401" in failed["message"]
    assert "not-the-password" not in str(obj)


async def test_a_restarted_controller_reuses_the_stored_build(
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    world: DependencyWorld,
    git_http: GitHTTPServer,
) -> None:
    """A new controller on the same storage: no build and no download for a new HelmChart of
    the same chart, and the same chart artifact."""
    digests = []
    counts = []
    for run in range(2):
        async with running_source_controllers(kube, namespace, tmp_path) as running:
            sources = Sources(kube, namespace, running.storage, running.ctx, running.server)
            if run == 0:
                await _setup(sources, world, git_http)
            built, reused = dependencies.builds, dependencies.reuses
            assert world.server is not None
            hits = world.server.hits.get("dep-1.0.0.tgz", 0)
            _, data = await _chart(sources, f"run{run}", "locked")
            digests.append(hashlib.sha256(data).hexdigest())
            counts.append(
                (
                    dependencies.builds - built,
                    dependencies.reuses - reused,
                    world.server.hits.get("dep-1.0.0.tgz", 0) - hits,
                )
            )
        await drop_finalizers(kube, namespace)
    assert counts == [(1, 0, 1), (0, 1, 0)]
    assert digests[0] == digests[1]


async def test_a_cloud_provider_helmrepository_fails_closed(
    sources: Sources, world: DependencyWorld, git_http: GitHTTPServer
) -> None:
    """The OCI HelmRepository covering the dependency wants cloud provider authentication:
    the dependency is not fetched at all, neither anonymously nor otherwise."""
    await sources.secret("git-auth", {"username": "git", "password": "pat"})
    spec = source_spec(git_http.url("app.git"), secret="git-auth", ref={"branch": "main"})
    await sources.apply("GitRepository", "app", spec)
    await sources.apply(
        "HelmRepository", "cloud", source_spec(world.oci_url, type="oci", provider="aws")
    )
    built = dependencies.builds
    await sources.apply("HelmChart", "cloud", chart_spec("charts/oci", "GitRepository", "app"))
    obj = await sources.failed("HelmChart", "cloud", "BuildFailed", within=90)
    failed = cond(obj, "BuildFailed")
    assert failed["reason"] == "DependencyBuildError"
    assert "HelmRepository 'cloud' needs spec.provider" in failed["message"]
    assert dependencies.builds == built
