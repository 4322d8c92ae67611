"""Source fields that had no test of their own, each acted on as source-controller does:
interval and suspend, timeouts, passCredentials, ignoreMissingValuesFiles, semverFilter, TLS
to an OCI registry (certSecretRef), the Bucket's aws provider, region and anonymous access;
and the fields Flux accepts without acting on them (accessFrom, sourceRef.apiVersion, the
provider of an HTTP HelmRepository, an empty sparseCheckout, recurseSubmodules: false)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.sources.driver import reconcile_object
from hack.testkit.chart_server import CA, ChartServer
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_index, helm_package
from hack.testkit.git_server import GitHTTPServer
from hack.testkit.plane import ControlPlane
from hack.testkit.tls import server_context, tls_front
from tests.sources.conftest import Sources, chart_repository, cond
from tests.sources.specs import chart_spec, source_spec
from tests.sources.test_bucket import s3 as s3  # the fixtures, reused
from tests.sources.test_git import git_http as git_http
from tests.sources.test_git import upstream as upstream
from tests.sources.test_oci import PASSWORD, Pushed, _dockerconfig
from tests.sources.test_oci import oci_registry as oci_registry

pytestmark = pytest.mark.sources


@pytest.fixture
async def chart_repo(tmp_path: Path, control_plane: ControlPlane) -> AsyncIterator[ChartServer]:
    """podinfo 6.0.3 over plain HTTP, without auth; the chart has values-prod.yaml."""
    chart = write_chart(tmp_path / "src", "podinfo", "6.0.3")
    (chart / "values-prod.yaml").write_text("replicas: 3\n")
    async with chart_repository(tmp_path, control_plane.helm, chart) as server:
        yield server


# --- interval and suspend ------------------------------------------------------------------------


async def test_interval_is_the_next_reconcile_and_suspend_stops_it(
    sources: Sources, chart_repo: ChartServer
) -> None:
    """A successful reconcile comes again after spec.interval, a failed one after the interval
    or 30s, whichever is shorter; a suspended source is not reconciled: no status, no fetch."""
    await sources.apply("HelmRepository", "charts", source_spec(chart_repo.url, interval="7m"))
    chart = chart_spec("podinfo", "HelmRepository", "charts", interval="3m")
    await sources.apply("HelmChart", "podinfo", chart)
    for kind, name, seconds in (
        ("HelmRepository", "charts", 420.0),
        ("HelmChart", "podinfo", 180.0),
    ):
        await sources.ready(kind, name)
        assert await reconcile_object(sources.ctx, await sources.get(kind, name)) == seconds
    unreachable = {
        "GitRepository": (source_spec("http://127.0.0.1:9/app.git", interval="9s"), 9.0),
        "Bucket": (
            {"bucketName": "b", "endpoint": "127.0.0.1:9", "insecure": True, "interval": "8s"},
            8.0,
        ),
        "OCIRepository": (source_spec("oci://127.0.0.1:9/app", insecure=True, interval="6s"), 6.0),
        "HelmRepository": (source_spec("http://127.0.0.1:9", interval="10m"), 30.0),
    }
    for kind, (spec, _) in unreachable.items():
        await sources.apply(kind, "down", spec)
    for kind, (_, seconds) in unreachable.items():
        await sources.failed(kind, "down", "FetchFailed")
        assert await reconcile_object(sources.ctx, await sources.get(kind, "down")) == seconds

    hits = chart_repo.hits.get("index.yaml", 0)
    suspended = {
        "HelmRepository": source_spec(chart_repo.url, suspend=True),
        "HelmChart": chart_spec("podinfo", "HelmRepository", "charts", suspend=True),
        "GitRepository": source_spec("http://127.0.0.1:9/app.git", suspend=True),
        "Bucket": {
            "bucketName": "b",
            "endpoint": "127.0.0.1:9",
            "interval": "10m",
            "suspend": True,
        },
        "OCIRepository": source_spec("oci://127.0.0.1:9/app", suspend=True),
    }
    for kind, spec in suspended.items():
        await sources.apply(kind, "paused", spec)
    await asyncio.sleep(2)
    for kind in suspended:
        obj = await sources.get(kind, "paused")
        assert not (obj.get("status") or {}).get("conditions"), (kind, obj.get("status"))
        assert await reconcile_object(sources.ctx, obj) is None, kind
    assert chart_repo.hits.get("index.yaml", 0) == hits


# --- timeouts ------------------------------------------------------------------------------------


@pytest.fixture
async def blackhole() -> AsyncIterator[str]:
    """127.0.0.1:<port> that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(Exception):
            await reader.read(-1)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_timeouts_bound_each_fetch(sources: Sources, blackhole: str) -> None:
    cases = {
        "HelmRepository": (source_spec(f"http://{blackhole}", timeout="1s"), "timeout after 1s"),
        "GitRepository": (
            source_spec(f"http://{blackhole}/app.git", timeout="1s"),
            "timed out after 1s",
        ),
        "Bucket": (
            {
                "bucketName": "b",
                "endpoint": blackhole,
                "insecure": True,
                "interval": "10m",
                "timeout": "1s",
            },
            "timeout",
        ),
        "OCIRepository": (
            source_spec(f"oci://{blackhole}/app", insecure=True, timeout="1s"),
            "deadline exceeded",
        ),
    }
    for kind, (spec, _) in cases.items():
        await sources.apply(kind, "slow", spec)
    for kind, (_, words) in cases.items():
        obj = await sources.failed(kind, "slow", "FetchFailed", within=30)
        message = cond(obj, "FetchFailed")["message"]
        assert words in message.lower(), (kind, message)


# --- HelmRepository and HelmChart ----------------------------------------------------------------


@pytest.fixture
async def split_repo(
    tmp_path: Path, control_plane: ControlPlane
) -> AsyncIterator[tuple[ChartServer, ChartServer]]:
    """An index served by one host whose chart URLs name another; both ask for the same basic
    auth credentials."""
    charts_dir, index_dir = tmp_path / "charts", tmp_path / "index"
    charts_dir.mkdir()
    index_dir.mkdir()
    helm_package(control_plane.helm, write_chart(tmp_path / "src", "podinfo", "6.0.3"), charts_dir)
    charts = ChartServer(charts_dir, username="flux", password="s3cret")
    index = ChartServer(index_dir, username="flux", password="s3cret")
    await charts.start()
    await index.start()
    helm_index(control_plane.helm, charts_dir, charts.url)
    shutil.move(charts_dir / "index.yaml", index_dir / "index.yaml")
    try:
        yield index, charts
    finally:
        await index.stop()
        await charts.stop()


async def test_pass_credentials_sends_them_to_the_chart_host(
    sources: Sources, split_repo: tuple[ChartServer, ChartServer]
) -> None:
    index, _ = split_repo
    await sources.secret("auth", {"username": "flux", "password": "s3cret"})
    await sources.apply("HelmRepository", "kept", source_spec(index.url, secret="auth"))
    await sources.apply(
        "HelmRepository", "passed", source_spec(index.url, secret="auth", passCredentials=True)
    )
    await sources.apply("HelmChart", "kept", chart_spec("podinfo", "HelmRepository", "kept"))
    await sources.apply("HelmChart", "passed", chart_spec("podinfo", "HelmRepository", "passed"))
    passed = await sources.ready("HelmChart", "passed")
    assert passed["status"]["artifact"]["revision"] == "6.0.3"
    kept = await sources.failed("HelmChart", "kept", "BuildFailed")
    failed = cond(kept, "BuildFailed")
    assert failed["reason"] == "ChartPullError"
    assert "401" in failed["message"], failed


async def test_ignore_missing_values_files(sources: Sources, chart_repo: ChartServer) -> None:
    await sources.apply("HelmRepository", "charts", source_spec(chart_repo.url))
    files = ["values.yaml", "values-prod.yaml", "values-missing.yaml"]
    base = chart_spec("podinfo", "HelmRepository", "charts", valuesFiles=files)
    await sources.apply("HelmChart", "lenient", {**base, "ignoreMissingValuesFiles": True})
    await sources.apply("HelmChart", "strict", base)
    lenient = await sources.ready("HelmChart", "lenient")
    assert cond(lenient, "Ready")["reason"] == "ChartPackageSucceeded"
    strict = await sources.failed("HelmChart", "strict", "BuildFailed")
    failed = cond(strict, "BuildFailed")
    assert failed["reason"] == "ValuesFilesError"
    assert "values-missing.yaml" in failed["message"]


async def test_fields_flux_accepts_without_acting_on_them(
    sources: Sources, chart_repo: ChartServer, git_http: GitHTTPServer
) -> None:
    """accessFrom is not enforced by source-controller, an HTTP HelmRepository's provider is
    not used (it is for OCI registries), a HelmChart's sourceRef.apiVersion is not read, and
    an empty sparseCheckout or recurseSubmodules: false ask for nothing: all become Ready."""
    selectors = [{"matchLabels": {"team": "apps"}}]
    await sources.apply(
        "HelmRepository",
        "charts",
        source_spec(chart_repo.url, provider="aws", accessFrom={"namespaceSelectors": selectors}),
    )
    await sources.apply(
        "HelmChart",
        "podinfo",
        {
            **chart_spec("podinfo", "HelmRepository", "charts"),
            "sourceRef": {
                "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
                "kind": "HelmRepository",
                "name": "charts",
            },
        },
    )
    await sources.secret("git-auth", {"username": "git", "password": "pat"})
    await sources.apply(
        "GitRepository",
        "app",
        source_spec(
            git_http.url("app.git"),
            secret="git-auth",
            ref={"branch": "main"},
            sparseCheckout=[],
            recurseSubmodules=False,
        ),
    )
    await sources.ready("HelmRepository", "charts")
    chart = await sources.ready("HelmChart", "podinfo")
    assert chart["status"]["artifact"]["revision"] == "6.0.3"
    await sources.ready("GitRepository", "app")


# --- OCI -----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tls_proxy(target: str, ca: CA) -> AsyncIterator[str]:
    """TLS on 127.0.0.1:<port> in front of the plain HTTP `target`, with a certificate of `ca`."""
    async with tls_front(target, server_context(ca.ca)) as host:
        yield host


async def test_oci_over_tls_trusts_the_cert_secret(sources: Sources, oci_registry: Pushed) -> None:
    """certSecretRef's ca.crt is the CA an OCI registry is verified with, for OCIRepository and
    for a HelmRepository of type oci; a registry signed by another CA is refused."""
    ca = CA()
    async with tls_proxy(oci_registry.registry.host, ca) as host:
        await _dockerconfig(sources, "regcred", host, PASSWORD)
        await sources.secret("registry-ca", {"ca.crt": ca.pem})
        await sources.secret("other-ca", {"ca.crt": CA().pem})
        url = f"oci://{host}/charts/podinfo"
        ref = {"tag": "1.0.0"}
        trusted = source_spec(url, secret="regcred", cert_secret="registry-ca", ref=ref)
        await sources.apply("OCIRepository", "trusted", trusted)
        untrusted = source_spec(url, secret="regcred", cert_secret="other-ca", ref=ref)
        await sources.apply("OCIRepository", "untrusted", untrusted)
        repo = source_spec(
            f"oci://{host}/charts", type="oci", secret="regcred", cert_secret="registry-ca"
        )
        await sources.apply("HelmRepository", "oci", repo)
        await sources.apply(
            "HelmChart", "podinfo", chart_spec("podinfo", "HelmRepository", "oci", version="1.0.0")
        )

        obj = await sources.ready("OCIRepository", "trusted")
        assert obj["status"]["artifact"]["revision"] == f"1.0.0@{oci_registry.digests['1.0.0']}"
        chart = await sources.ready("HelmChart", "podinfo")
        data = await sources.fetch_artifact(chart)
        assert data == oci_registry.packages["1.0.0"].read_bytes()
        refused = await sources.failed("OCIRepository", "untrusted", "FetchFailed")
        assert "certificate" in cond(refused, "FetchFailed")["message"]
        # Without certSecretRef, only the system's CAs: refused as well.
        await sources.apply("OCIRepository", "system", source_spec(url, secret="regcred", ref=ref))
        refused = await sources.failed("OCIRepository", "system", "FetchFailed")
        c = cond(refused, "FetchFailed")
        assert c["reason"] == "OCIArtifactPullFailed", c
        assert "certificate signed by unknown authority" in c["message"], c


async def test_ocirepository_semver_filter(sources: Sources, oci_registry: Pushed) -> None:
    await _dockerconfig(sources, "regcred", oci_registry.registry.host, PASSWORD)
    ref = {"semver": ">=1.0.0-0", "semverFilter": ".*-rc.*"}
    spec = source_spec(oci_registry.chart_url, secret="regcred", insecure=True, ref=ref)
    await sources.apply("OCIRepository", "rc", spec)
    obj = await sources.ready("OCIRepository", "rc")
    revision = f"2.0.0-rc.1@{oci_registry.digests['2.0.0-rc.1']}"
    assert obj["status"]["artifact"]["revision"] == revision


# --- Bucket --------------------------------------------------------------------------------------


async def test_bucket_providers_credentials_and_region(
    sources: Sources, s3: tuple[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Provider aws with static keys and a region fetches as generic does, and without a
    Secret it takes the AWS credential chain (here the environment) as Flux's IAM provider
    does; generic without a Secret is anonymous, as Flux's: the controller's own credentials
    are not sent, so this private bucket refuses it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDAMBIENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient")
    endpoint, _ = s3
    await sources.secret("keys", {"accesskey": "AKIDTEST", "secretkey": "secret"})
    common = {"bucketName": "charts", "endpoint": endpoint, "insecure": True, "interval": "10m"}
    keys = {"secretRef": {"name": "keys"}}
    await sources.apply("Bucket", "generic", {**common, **keys})
    await sources.apply(
        "Bucket", "aws", {**common, **keys, "provider": "aws", "region": "eu-west-1"}
    )
    await sources.apply("Bucket", "chain", {**common, "provider": "aws"})
    await sources.apply("Bucket", "anonymous", common)
    generic = await sources.ready("Bucket", "generic")
    for name in ("aws", "chain"):
        obj = await sources.ready("Bucket", name)
        assert obj["status"]["artifact"]["revision"] == generic["status"]["artifact"]["revision"]
    refused = await sources.failed("Bucket", "anonymous", "FetchFailed")
    assert "403" in cond(refused, "FetchFailed")["message"]
