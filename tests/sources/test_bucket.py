"""Bucket against moto's S3 server, and a HelmChart packaged from it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from hack.testkit.charts import write_chart
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
