"""Spec fields Helmward cannot act on make the source say so: Ready=False, Stalled=True, one
reason per kind of gap and a message naming each field path, and no artifact. A requested
signature verification fails closed, also for an artifact made before it was asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client

from hack.testkit.chart_server import ChartServer
from hack.testkit.charts import write_chart
from hack.testkit.plane import ControlPlane
from tests.sources.conftest import Sources, chart_repository, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources

VERIFICATION = "VerificationNotSupported"
PROVIDER = "ProviderNotSupported"
UNSUPPORTED = "UnsupportedField"

GIT = "https://git.example.invalid/app.git"
OCI = "oci://registry.example.invalid/app"
REF = {"name": "some-secret"}
KEYLESS = [{"issuer": "^https://token.actions.githubusercontent.com$", "subject": ".*"}]
BUCKET = {"bucketName": "b", "endpoint": "s3.example.invalid", "interval": "10m"}

# (kind, name, spec, reason, the field paths the message names)
CASES: list[tuple[str, str, dict[str, object], str, tuple[str, ...]]] = [
    (
        "HelmChart",
        "chart-verify",
        chart_spec(
            "podinfo",
            "HelmRepository",
            "charts",
            # keyless: no public keys to verify with
            verify={"provider": "cosign", "matchOIDCIdentity": KEYLESS},
        ),
        VERIFICATION,
        ("spec.verify",),
    ),
    (
        "OCIRepository",
        "oci-verify",
        # verification outranks the other gaps: the reason is the most severe one's
        source_spec(
            OCI,
            verify={
                "provider": "cosign",
                "secretRef": REF,
                "trustedRootSecretRef": REF,
                "matchOIDCIdentity": KEYLESS,
            },
            serviceAccountName="sa",
        ),
        VERIFICATION,
        ("spec.verify", "spec.serviceAccountName"),
    ),
    (
        # The static OCI HelmRepository has no status: its chart says it.
        "HelmChart",
        "chart-oci-provider",
        chart_spec("podinfo", "HelmRepository", "oci-provider"),
        PROVIDER,
        ("HelmRepository", "oci-provider", "spec.provider"),
    ),
    (
        "OCIRepository",
        "oci-provider",
        source_spec(OCI, provider="azure"),
        PROVIDER,
        ("spec.provider",),
    ),
    (
        "GitRepository",
        "git-github",
        source_spec(GIT, provider="github"),
        PROVIDER,
        ("spec.provider",),
    ),
    (
        "GitRepository",
        "git-identity",
        source_spec(GIT, provider="azure", serviceAccountName="sa"),
        PROVIDER,
        ("spec.provider", "spec.serviceAccountName"),
    ),
    ("Bucket", "bucket-gcp", {**BUCKET, "provider": "gcp"}, PROVIDER, ("spec.provider",)),
    (
        "Bucket",
        "bucket-sts",
        {
            **BUCKET,
            "sts": {
                "provider": "ldap",
                "endpoint": "https://sts.example.invalid",
                "secretRef": REF,
                "certSecretRef": REF,
            },
        },
        PROVIDER,
        ("spec.sts",),
    ),
    (
        "Bucket",
        "bucket-identity",
        {**BUCKET, "provider": "aws", "serviceAccountName": "sa"},
        PROVIDER,
        ("spec.serviceAccountName",),
    ),
    (
        "OCIRepository",
        "oci-pull-secrets",
        source_spec(OCI, serviceAccountName="sa"),
        UNSUPPORTED,
        ("spec.serviceAccountName",),
    ),
    (
        "GitRepository",
        "git-ssh-proxy",
        # a proxy is for HTTP(S) URLs only
        source_spec("ssh://git@git.example.invalid/app.git", proxySecretRef=REF),
        UNSUPPORTED,
        ("spec.proxySecretRef",),
    ),
]


async def test_fields_helmward_cannot_act_on_stall_the_source(sources: Sources) -> None:
    """Nothing is fetched: the addresses do not even resolve."""
    await sources.apply(
        "HelmRepository", "oci-provider", source_spec(OCI, type="oci", provider="aws")
    )
    for kind, name, spec, _, _ in CASES:
        await sources.apply(kind, name, spec)
    for kind, name, _, reason, paths in CASES:
        obj = await sources.wait(kind, name, "Stalled", "True")
        for type_ in ("Stalled", "Ready", "FetchFailed"):
            c = cond(obj, type_)
            assert c["reason"] == reason, (kind, name, c)
            for path in paths:
                assert path in c["message"], (kind, name, c)
        assert cond(obj, "Ready")["status"] == "False"
        assert "artifact" not in obj["status"], (kind, name)
        assert "not supported by Helmward" in cond(obj, "Ready")["message"]
    assert not (await sources.get("HelmRepository", "oci-provider")).get("status")
    core = client.CoreV1Api(sources.kube)
    warnings = await core.list_namespaced_event(
        sources.namespace, field_selector="involvedObject.name=chart-verify"
    )
    assert [e.reason for e in warnings.items] == [VERIFICATION]
    assert "nothing unverified is used" in warnings.items[0].message


@pytest.fixture
async def chart_repo(tmp_path: Path, control_plane: ControlPlane) -> AsyncIterator[ChartServer]:
    chart = write_chart(tmp_path / "src", "podinfo", "6.0.3")
    async with chart_repository(tmp_path, control_plane.helm, chart) as server:
        yield server


async def _served(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status


async def test_verify_added_later_withdraws_the_artifact(
    sources: Sources, chart_repo: ChartServer
) -> None:
    """A HelmChart with an artifact that is then asked to verify it: the artifact leaves the
    status and the storage (its URL answers 404), so nothing installs the unverified chart;
    without verify again, the chart is built anew."""
    await sources.apply("HelmRepository", "charts", source_spec(chart_repo.url))
    plain = chart_spec("podinfo", "HelmRepository", "charts")
    await sources.apply("HelmChart", "podinfo", plain)
    obj = await sources.ready("HelmChart", "podinfo")
    url = obj["status"]["artifact"]["url"]
    assert await _served(url) == 200

    await sources.apply("HelmChart", "podinfo", {**plain, "verify": {"provider": "cosign"}})
    obj = await sources.wait("HelmChart", "podinfo", "Stalled", "True")
    assert cond(obj, "Stalled")["reason"] == VERIFICATION
    assert "artifact" not in obj["status"]
    assert "url" not in obj["status"]
    assert not any(c["type"] == "ArtifactInStorage" for c in obj["status"]["conditions"])
    assert await _served(url) == 404

    await sources.apply("HelmChart", "podinfo", plain)
    obj = await sources.ready("HelmChart", "podinfo")
    assert obj["status"]["artifact"]["revision"] == "6.0.3"
    assert not any(c["type"] == "Stalled" for c in obj["status"]["conditions"])
    assert await _served(obj["status"]["artifact"]["url"]) == 200


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[ChartServer]:
    """An HTTP server standing in for the object store: it answers nothing useful, but
    counts every request, so a test can show whether a Bucket reached it."""
    root = tmp_path / "endpoint"
    root.mkdir()
    server = ChartServer(root)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_bucket_cloud_fields_stall_and_fetch_nothing(
    sources: Sources, endpoint: ChartServer
) -> None:
    """gcp, azure, an STS and workload identity: Stalled with ProviderNotSupported naming the
    field, and not one request reaches the endpoint; a Bucket without them does reach it."""
    await sources.secret("keys", {"accesskey": "AKIDTEST", "secretkey": "secret"})
    host = endpoint.url.removeprefix("http://")
    base = {
        "bucketName": "charts",
        "endpoint": host,
        "insecure": True,
        "interval": "10m",
        "secretRef": {"name": "keys"},
    }
    without_keys = {k: v for k, v in base.items() if k != "secretRef"}
    sts = {"provider": "ldap", "endpoint": endpoint.url}
    cases = {
        "gcp": ({**base, "provider": "gcp"}, "spec.provider"),
        "azure": ({**base, "provider": "azure"}, "spec.provider"),
        "sts": ({**base, "provider": "generic", "sts": sts}, "spec.sts"),
        "identity": (
            {**without_keys, "provider": "aws", "serviceAccountName": "sa"},
            "spec.serviceAccountName",
        ),
    }
    for name, (spec, _) in cases.items():
        await sources.apply("Bucket", name, spec)
    for name, (_, path) in cases.items():
        obj = await sources.wait("Bucket", name, "Stalled", "True")
        for type_ in ("Stalled", "Ready", "FetchFailed"):
            c = cond(obj, type_)
            assert c["reason"] == PROVIDER, (name, c)
            assert path in c["message"], (name, c)
        assert "artifact" not in obj["status"]
    assert endpoint.hits == {}

    await sources.apply("Bucket", "plain", base)
    await sources.failed("Bucket", "plain", "FetchFailed")
    assert endpoint.hits, "the control Bucket should have reached the endpoint"
