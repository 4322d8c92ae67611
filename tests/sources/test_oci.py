"""OCI sources against the distribution registry on 127.0.0.1 with htpasswd auth: HelmRepository
of type oci (login check), HelmChart pulled from it, OCIRepository with its ref precedence and
layer selector; and the Helm engine's registry ops underneath."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_package
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from internal.helm import Engine, RegistryAuthError, RegistryNotFoundError, TooLargeError
from internal.helm.models import LoginRequest, PullRequest, TagsRequest
from internal.sources import oci as ocisrc
from tests.sources.conftest import Sources, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources

USER, PASSWORD = "flux", "s3cr3t-registry"
VERSIONS = ("1.0.0", "1.2.0", "2.0.0-rc.1")


@dataclass
class Pushed:
    registry: OCIRegistry
    digests: dict[str, str]
    """version → manifest digest"""
    packages: dict[str, Path]
    repo_url: str = field(init=False)
    chart_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.repo_url = f"oci://{self.registry.host}/charts"
        self.chart_url = f"{self.repo_url}/podinfo"


@pytest.fixture
def oci_registry(tmp_path: Path, control_plane: ControlPlane) -> Iterator[Pushed]:
    registry = OCIRegistry(tmp_path / "registry", USER, PASSWORD)
    registry.start()
    try:
        digests, packages = {}, {}
        for v in VERSIONS:
            d = write_chart(tmp_path / "charts" / v, "podinfo", v, values=f"tag: '{v}'\n")
            pkg = helm_package(control_plane.helm, d, tmp_path / "packages")
            packages[v] = pkg
            digests[v] = registry.push_chart(control_plane.helm, pkg, "charts", tmp_path / "helm")
        yield Pushed(registry, digests, packages)
    finally:
        registry.stop()


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    e = Engine(max_workers=4)
    try:
        yield e
    finally:
        e.close()


def _auth(**extra: object) -> dict[str, object]:
    return {"username": USER, "password": PASSWORD, "plain_http": True, **extra}


# --- the engine's registry ops ------------------------------------------------------------------


async def test_engine_login_tags_and_pull(oci_registry: Pushed, engine: Engine) -> None:
    host = oci_registry.registry.host
    assert await engine.login(LoginRequest(host=f"oci://{host}/charts", **_auth())) == host
    with pytest.raises(RegistryAuthError, match="401"):
        await engine.login(
            LoginRequest(host=host, username=USER, password="wrong", plain_http=True)
        )
    tags = await engine.tags(TagsRequest(ref=oci_registry.chart_url, **_auth()))
    assert tags == ["2.0.0-rc.1", "1.2.0", "1.0.0"]
    pulled = await engine.pull(PullRequest(ref=oci_registry.chart_url, tag="1.2.0", **_auth()))
    package = oci_registry.packages["1.2.0"].read_bytes()
    assert pulled.data == package
    assert pulled.layer_digest == "sha256:" + hashlib.sha256(package).hexdigest()
    assert pulled.manifest_digest == oci_registry.digests["1.2.0"]
    assert pulled.chart is not None
    assert pulled.chart["version"] == "1.2.0"
    by_digest = await engine.pull(
        PullRequest(ref=oci_registry.chart_url, digest=pulled.manifest_digest, **_auth())
    )
    assert by_digest.data == package
    with pytest.raises(RegistryNotFoundError, match=r"9\.9\.9"):
        await engine.pull(PullRequest(ref=oci_registry.chart_url, tag="9.9.9", **_auth()))
    with pytest.raises(RegistryAuthError):
        await engine.pull(
            PullRequest(
                ref=oci_registry.chart_url,
                tag="1.0.0",
                username=USER,
                password="wrong",
                plain_http=True,
            )
        )
    with pytest.raises(TooLargeError, match="exceeds the maximum size of 10 bytes"):
        await engine.pull(
            PullRequest(ref=oci_registry.chart_url, tag="1.0.0", max_size=10, **_auth())
        )


async def test_engine_registry_bad_requests(engine: Engine) -> None:
    from internal.helm import InvalidRequestError

    with pytest.raises(InvalidRequestError) as exc:
        await engine.pull(PullRequest(ref="https://example.com/x", tag="1"))
    assert exc.value.field == "pull.ref"
    with pytest.raises(InvalidRequestError) as exc:
        await engine.pull(PullRequest(ref="oci://example.com/x"))
    assert exc.value.field == "pull.tag"
    raw = await engine.call("pull", {"ref": "oci://h/x", "tag": "1", "nope": 1})
    assert raw.error is not None
    assert raw.error.field == "pull.nope"


# --- pure decisions ------------------------------------------------------------------------------


def test_docker_credentials_and_tag_selection() -> None:
    auth = base64.b64encode(b"u:p").decode()
    config = json.dumps({"auths": {"https://reg.example:5000/v1/": {"auth": auth}}}).encode()
    assert ocisrc.docker_credentials(config, "reg.example:5000") == ocisrc.Credentials("u", "p")
    assert ocisrc.docker_credentials(config, "other.example") is None
    tags = ["2.0.0-rc.1", "1.2.0", "1.0.0"]
    assert ocisrc.select_chart_tag(tags, "*") == "1.2.0"
    assert ocisrc.select_chart_tag(tags, "") == "1.2.0"
    assert ocisrc.select_chart_tag(tags, "1.0.0") == "1.0.0"
    assert ocisrc.select_chart_tag(tags, ">=2.0.0-0") == "2.0.0-rc.1"
    with pytest.raises(ocisrc.NoMatchingTagError):
        ocisrc.select_chart_tag(tags, "3.x")
    assert ocisrc.select_semver_tag(["v1.0.0", "v1.1.0", "latest", "v2.0.0"], "<2.0.0") == "v1.1.0"
    assert ocisrc.select_semver_tag(["1.0.0-a", "1.0.0-b"], ">=1.0.0-0", "-a$") == "1.0.0-a"
    assert ocisrc.revision("v1", "sha256:ab") == "v1@sha256:ab"
    assert ocisrc.revision(None, "sha256:ab") == "sha256:ab"


# --- reconcilers ---------------------------------------------------------------------------------


async def _dockerconfig(sources: Sources, name: str, host: str, password: str) -> None:
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    doc = json.dumps({"auths": {host: {"auth": auth}}})
    await sources.secret(name, {".dockerconfigjson": doc}, "kubernetes.io/dockerconfigjson")


async def _oci_repository(sources: Sources, name: str, url: str, secret: str = "") -> None:
    """A HelmRepository of type oci over plain HTTP, with `secret` as its secretRef if set."""
    spec = source_spec(url, secret=secret, type="oci", insecure=True)
    await sources.apply("HelmRepository", name, spec)


async def _chart(sources: Sources, name: str, version: str, repository: str) -> None:
    spec = chart_spec("podinfo", "HelmRepository", repository, version=version)
    await sources.apply("HelmChart", name, spec)


async def _fetch_failed(sources: Sources, kind: str, name: str) -> dict[str, str]:
    """The FetchFailed condition the object ends up with."""
    return cond(await sources.failed(kind, name, "FetchFailed"), "FetchFailed")


async def test_helmrepository_oci_login_and_helmchart(
    sources: Sources, oci_registry: Pushed
) -> None:
    host = oci_registry.registry.host
    await _dockerconfig(sources, "regcred", host, PASSWORD)
    await _oci_repository(sources, "oci", oci_registry.repo_url, "regcred")
    repo = await sources.ready("HelmRepository", "oci")
    assert "artifact" not in repo["status"]
    assert cond(repo, "Ready")["message"] == "Helm repository is ready"

    await _chart(sources, "podinfo", "*", "oci")
    chart = await sources.ready("HelmChart", "podinfo")
    data = await sources.fetch_artifact(chart)
    assert data == oci_registry.packages["1.2.0"].read_bytes()
    art = chart["status"]["artifact"]
    assert art["revision"] == "1.2.0"
    assert art["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert art["path"].endswith("/podinfo-1.2.0.tgz")

    # An exact prerelease, and a version that is not in the registry.
    await _chart(sources, "podinfo", "2.0.0-rc.1", "oci")
    chart = await sources.ready("HelmChart", "podinfo")
    assert chart["status"]["artifact"]["revision"] == "2.0.0-rc.1"
    await _chart(sources, "missing", "9.x", "oci")
    failed = await sources.failed("HelmChart", "missing", "BuildFailed")
    assert "no tag matches version '9.x'" in cond(failed, "BuildFailed")["message"]


async def test_helmrepository_oci_wrong_credentials(sources: Sources, oci_registry: Pushed) -> None:
    await sources.secret("bad", {"username": USER, "password": "wrong"})
    await _oci_repository(sources, "oci", oci_registry.repo_url, "bad")
    c = await _fetch_failed(sources, "HelmRepository", "oci")
    assert c["reason"] == "AuthenticationFailed"
    assert "failed to login to registry" in c["message"]
    assert "401" in c["message"]


async def test_helmchart_oci_anonymous_is_refused(sources: Sources, oci_registry: Pushed) -> None:
    """No secretRef: the repository is Ready (nothing to check, as in Flux), but the registry
    refuses the chart's tag listing, and the HelmChart says so."""
    await _oci_repository(sources, "anon", oci_registry.repo_url)
    await sources.ready("HelmRepository", "anon")
    await _chart(sources, "podinfo", "1.0.0", "anon")
    c = await _fetch_failed(sources, "HelmChart", "podinfo")
    assert c["reason"] == "AuthenticationFailed", c
    assert "credential not found" in c["message"], c


def _members(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                out[m.name] = f.read()
    return out


async def test_ocirepository_ref_precedence_and_layers(
    sources: Sources, oci_registry: Pushed
) -> None:
    host = oci_registry.registry.host
    await _dockerconfig(sources, "regcred", host, PASSWORD)
    base = {
        "url": oci_registry.chart_url,
        "interval": "10m",
        "insecure": True,
        "secretRef": {"name": "regcred"},
    }
    # semver wins over tag.
    await sources.apply(
        "OCIRepository", "app", {**base, "ref": {"semver": ">=1.0.0 <2.0.0", "tag": "1.0.0"}}
    )
    obj = await sources.ready("OCIRepository", "app")
    art = obj["status"]["artifact"]
    assert art["revision"] == f"1.2.0@{oci_registry.digests['1.2.0']}"
    files = _members(await sources.fetch_artifact(obj))
    assert files["podinfo/values.yaml"] == b"tag: '1.2.0'\n"
    assert obj["status"]["url"] == art["url"]

    # digest wins over semver; copy stores the layer as it is.
    digest = oci_registry.digests["1.0.0"]
    await sources.apply(
        "OCIRepository",
        "app",
        {
            **base,
            "ref": {"digest": digest, "semver": "*"},
            "layerSelector": {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "operation": "copy",
            },
        },
    )
    obj = await sources.ready("OCIRepository", "app")
    assert obj["status"]["artifact"]["revision"] == digest
    data = await sources.fetch_artifact(obj)
    assert data == oci_registry.packages["1.0.0"].read_bytes()
    assert gzip.decompress(data)
    assert obj["status"]["observedLayerSelector"]["operation"] == "copy"

    # A tag alone; the ignore rules drop files from the extracted layer.
    await sources.apply(
        "OCIRepository", "app", {**base, "ref": {"tag": "2.0.0-rc.1"}, "ignore": "templates/\n"}
    )
    obj = await sources.ready("OCIRepository", "app")
    assert obj["status"]["artifact"]["revision"].startswith("2.0.0-rc.1@sha256:")
    files = _members(await sources.fetch_artifact(obj))
    assert "podinfo/Chart.yaml" in files
    assert not any("templates" in n for n in files)


async def test_ocirepository_failures(sources: Sources, oci_registry: Pushed) -> None:
    host = oci_registry.registry.host
    await _dockerconfig(sources, "regcred", host, PASSWORD)
    await _dockerconfig(sources, "wrong", host, "nope")
    base = {"url": oci_registry.chart_url, "interval": "10m", "insecure": True}
    regcred = {"secretRef": {"name": "regcred"}}
    cases: list[tuple[str, dict[str, object], str | None, str]] = [
        (
            "badauth",
            {"secretRef": {"name": "wrong"}, "ref": {"tag": "1.0.0"}},
            "AuthenticationFailed",
            "401",
        ),
        (
            "notag",
            {**regcred, "ref": {"tag": "9.9.9"}},
            "OCIArtifactPullFailed",
            "9.9.9: not found",
        ),
        (
            "nosemver",
            {**regcred, "ref": {"semver": ">=5.0.0"}},
            None,
            "no match found for semver: >=5.0.0",
        ),
        (
            "nolayer",
            {
                **regcred,
                "ref": {"tag": "1.0.0"},
                "layerSelector": {"mediaType": "application/x-nothing"},
            },
            None,
            "no layer with media type application/x-nothing",
        ),
    ]
    for name, extra, reason, text in cases:
        await sources.apply("OCIRepository", name, {**base, **extra})
        c = await _fetch_failed(sources, "OCIRepository", name)
        if reason is not None:
            assert c["reason"] == reason, c
        assert text in c["message"], c
