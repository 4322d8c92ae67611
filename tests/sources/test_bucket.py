"""Bucket against moto's S3 server, and a HelmChart packaged from it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator

import boto3
import pytest
import trustme
from moto.server import ThreadedMotoServer

from hack.testkit.charts import write_chart
from hack.testkit.proxy import running_proxy
from hack.testkit.tls import server_context, tls_front
from tests.sources.conftest import Sources, cond

pytestmark = pytest.mark.sources


@pytest.fixture
def s3(tmp_path) -> Iterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )
    client.create_bucket(Bucket="charts")
    chart = write_chart(tmp_path / "src", "podinfo", "6.0.3")
    for path in sorted(chart.rglob("*")):
        if path.is_file():
            client.put_object(
                Bucket="charts", Key=f"podinfo/{path.relative_to(chart)}", Body=path.read_bytes()
            )
    client.put_object(Bucket="charts", Key="README.md", Body=b"readme")
    client.put_object(Bucket="charts", Key="logo.png", Body=b"png")
    try:
        yield endpoint, client
    finally:
        server.stop()


async def _bucket(
    sources: Sources, endpoint: str, name: str, bucket: str = "charts", **spec: object
) -> None:
    await sources.secret(f"{name}-s3", {"accesskey": "AKIDTEST", "secretkey": "secret"})
    await sources.apply(
        "Bucket",
        name,
        {
            "bucketName": bucket,
            "endpoint": endpoint,
            "insecure": True,
            "interval": "10m",
            "secretRef": {"name": f"{name}-s3"},
            **spec,
        },
    )


async def test_bucket_artifact_and_revision(sources: Sources, s3: tuple[str, object]) -> None:
    endpoint, client = s3
    await _bucket(sources, endpoint, "charts")
    obj = await sources.ready("Bucket", "charts")
    listed = client.list_objects_v2(Bucket="charts")["Contents"]  # type: ignore[attr-defined]
    # Default exclusions: logo.png is left out of the artifact and of the revision.
    lines = "".join(
        f"{o['Key']} {o['ETag'].strip(chr(34))}\n"
        for o in sorted(listed, key=lambda o: o["Key"])
        if o["Key"] != "logo.png"
    )
    revision = "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    art = obj["status"]["artifact"]
    assert art["revision"] == revision
    assert art["path"] == f"bucket/{sources.namespace}/charts/{revision.split(':')[1]}.tar.gz"
    data = await sources.fetch_artifact(obj)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert "podinfo/Chart.yaml" in names
    assert "README.md" in names
    assert "logo.png" not in names


async def test_bucket_prefix_ignore_and_missing_bucket(
    sources: Sources, s3: tuple[str, object]
) -> None:
    endpoint, _ = s3
    await _bucket(sources, endpoint, "prefixed", prefix="podinfo/", ignore="templates/\n")
    obj = await sources.ready("Bucket", "prefixed")
    data = await sources.fetch_artifact(obj)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert names == {"podinfo/Chart.yaml", "podinfo/values.yaml"}
    await _bucket(sources, endpoint, "missing", bucket="nope")
    obj = await sources.failed("Bucket", "missing", "FetchFailed")
    assert "bucket 'nope' not found" in cond(obj, "FetchFailed")["message"]


async def test_helmchart_from_bucket(sources: Sources, s3: tuple[str, object]) -> None:
    endpoint, _ = s3
    await _bucket(sources, endpoint, "charts")
    await sources.apply(
        "HelmChart",
        "podinfo",
        {"chart": "podinfo", "sourceRef": {"kind": "Bucket", "name": "charts"}, "interval": "10m"},
    )
    obj = await sources.ready("HelmChart", "podinfo")
    assert obj["status"]["artifact"]["revision"] == "6.0.3"
    data = await sources.fetch_artifact(obj)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "podinfo/templates/configmap.yaml" in tar.getnames()


# --- certSecretRef and proxySecretRef ------------------------------------------------------------


async def test_bucket_cert_secret_ref(sources: Sources, s3: tuple[str, object]) -> None:
    """moto behind TLS of a test CA that also requires a client certificate of another CA: the
    Bucket with ca.crt, tls.crt and tls.key (or the older caFile, certFile, keyFile) is Ready
    with the same revision as over plain HTTP; without the client certificate the handshake
    fails, and without the CA the server's certificate is refused."""
    endpoint, _ = s3
    server_ca, client_ca = trustme.CA(), trustme.CA()
    client_cert = client_ca.issue_cert("helmward-client")
    await _bucket(sources, endpoint, "plain")
    plain = await sources.ready("Bucket", "plain")
    await sources.secret(
        "tls",
        {
            "ca.crt": server_ca.cert_pem.bytes(),
            "tls.crt": b"".join(p.bytes() for p in client_cert.cert_chain_pems),
            "tls.key": client_cert.private_key_pem.bytes(),
        },
    )
    await sources.secret("ca-only", {"ca.crt": server_ca.cert_pem.bytes()})
    await sources.secret(
        "legacy",
        {
            "caFile": server_ca.cert_pem.bytes(),
            "certFile": b"".join(p.bytes() for p in client_cert.cert_chain_pems),
            "keyFile": client_cert.private_key_pem.bytes(),
        },
    )
    async with tls_front(endpoint, server_context(server_ca, client_ca)) as host:
        await _bucket(sources, host, "mtls", insecure=False, certSecretRef={"name": "tls"})
        await _bucket(sources, host, "ca-only", insecure=False, certSecretRef={"name": "ca-only"})
        await _bucket(sources, host, "legacy", insecure=False, certSecretRef={"name": "legacy"})
        await _bucket(sources, host, "system", insecure=False)
        for name in ("mtls", "legacy"):
            obj = await sources.ready("Bucket", name)
            revision = obj["status"]["artifact"]["revision"]
            assert revision == plain["status"]["artifact"]["revision"]
        c = cond(await sources.failed("Bucket", "ca-only", "FetchFailed"), "FetchFailed")
        assert c["reason"] == "BucketOperationFailed", c
        assert "CERTIFICATE_VERIFY_FAILED" not in c["message"], c
        c = cond(await sources.failed("Bucket", "system", "FetchFailed"), "FetchFailed")
        assert "CERTIFICATE_VERIFY_FAILED" in c["message"], c


async def test_bucket_proxy_secret_ref(sources: Sources, s3: tuple[str, object]) -> None:
    """Through an authenticating proxy: the requests reach moto by way of the proxy; wrong
    proxy credentials leave the Bucket not Ready, and the password is in no message."""
    endpoint, _ = s3
    async with running_proxy("proxy-user", "proxy-pass") as proxy:
        await sources.secret(
            "proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "proxy-pass"},
        )
        await sources.secret(
            "bad-proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "wrong-Pa55"},
        )
        await sources.secret("no-address", {"username": "proxy-user"})
        await _bucket(sources, endpoint, "proxied", proxySecretRef={"name": "proxy"})
        await _bucket(sources, endpoint, "refused", proxySecretRef={"name": "bad-proxy"})
        await _bucket(sources, endpoint, "invalid", proxySecretRef={"name": "no-address"})
        obj = await sources.ready("Bucket", "proxied")
        assert endpoint in proxy.targets, proxy.targets
        assert proxy.forwarded, proxy.forwarded
        refused = await sources.failed("Bucket", "refused", "FetchFailed")
        assert proxy.refused > 0
        for c in refused["status"]["conditions"]:
            assert "wrong-Pa55" not in c["message"], c
        assert "407" in cond(refused, "FetchFailed")["message"]
        invalid = cond(await sources.failed("Bucket", "invalid", "FetchFailed"), "FetchFailed")
        assert invalid["reason"] == "AuthenticationFailed", invalid
        assert "key 'address' not found" in invalid["message"], invalid
    assert obj["status"]["artifact"]["revision"].startswith("sha256:")
