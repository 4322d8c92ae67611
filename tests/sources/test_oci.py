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
import trustme
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from api.meta import FINALIZER
from api.sources import GROUP, VERSION
from controller.metrics import Recorder
from controller.sources.context import RESOURCES
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_package
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from hack.testkit.proxy import running_proxy
from hack.testkit.wait import eventually
from internal.helm import Engine, RegistryAuthError, RegistryNotFoundError, TooLargeError
from internal.helm.models import LoginRequest, PullRequest, ResolveRequest, TagsRequest
from internal.kube import rest
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
    resolved = await engine.resolve(
        ResolveRequest(ref=oci_registry.chart_url, tag="1.2.0", **_auth())
    )
    assert resolved.digest == oci_registry.digests["1.2.0"]
    assert resolved.media_type == "application/vnd.oci.image.manifest.v1+json"
    with pytest.raises(RegistryNotFoundError, match=r"9\.9\.9"):
        await engine.resolve(ResolveRequest(ref=oci_registry.chart_url, tag="9.9.9", **_auth()))
    with pytest.raises(RegistryAuthError):
        await engine.resolve(
            ResolveRequest(
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
    with pytest.raises(InvalidRequestError) as exc:
        await engine.resolve(ResolveRequest(ref="oci://example.com/x", tag=""))
    assert exc.value.field == "resolve.tag"
    with pytest.raises(InvalidRequestError) as exc:
        await engine.pull(
            PullRequest(ref="oci://example.com/x", tag="1", proxy_url="socks5://u:secret@h:1")
        )
    assert exc.value.field == "pull.proxyUrl"
    assert "secret" not in exc.value.message
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


async def test_helmrepository_oci_is_static_and_helmchart(
    sources: Sources, oci_registry: Pushed
) -> None:
    """A HelmRepository of type oci is a static object (source-controller v1.9): no status, no
    finalizer, no gotk series; its HelmCharts do not wait for it and pull with its
    credentials."""
    metrics = sources.ctx.metrics = Recorder(CollectorRegistry())
    host = oci_registry.registry.host
    await _dockerconfig(sources, "regcred", host, PASSWORD)
    await _oci_repository(sources, "oci", oci_registry.repo_url, "regcred")
    await _chart(sources, "podinfo", "*", "oci")
    chart = await sources.ready("HelmChart", "podinfo")
    data = await sources.fetch_artifact(chart)
    assert data == oci_registry.packages["1.2.0"].read_bytes()
    art = chart["status"]["artifact"]
    assert art["revision"] == "1.2.0"
    assert art["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert art["path"].endswith("/podinfo-1.2.0.tgz")
    repo = await sources.get("HelmRepository", "oci")
    assert not repo.get("status"), repo.get("status")
    assert "finalizers" not in repo["metadata"], repo["metadata"]

    # An exact prerelease, and a version that is not in the registry.
    await _chart(sources, "podinfo", "2.0.0-rc.1", "oci")
    chart = await sources.ready("HelmChart", "podinfo")
    assert chart["status"]["artifact"]["revision"] == "2.0.0-rc.1"
    await _chart(sources, "missing", "9.x", "oci")
    failed = await sources.failed("HelmChart", "missing", "BuildFailed")
    assert "no tag matches version '9.x'" in cond(failed, "BuildFailed")["message"]
    repo = await sources.get("HelmRepository", "oci")
    assert not repo.get("status"), repo.get("status")
    series = metrics.objects.render().decode()
    assert 'kind="HelmChart"' in series
    assert 'kind="HelmRepository"' not in series


async def test_helmrepository_oci_left_from_before_is_cleared(
    sources: Sources, oci_registry: Pushed
) -> None:
    """An OCI HelmRepository that an earlier controller reconciled (finalizer, Ready status)
    is made static: the finalizer goes, the status is emptied and its gotk series dropped."""
    metrics = sources.ctx.metrics = Recorder(CollectorRegistry())
    metrics.record_condition("HelmRepository", "old", sources.namespace, "Ready", "True")
    custom = client.CustomObjectsApi(sources.kube)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HelmRepository",
        "metadata": {"name": "old", "namespace": sources.namespace, "finalizers": [FINALIZER]},
        "spec": source_spec(oci_registry.repo_url, type="oci", insecure=True),
    }
    # Written before the controller runs would be better; the informer may see it first, so
    # the status is set right after and the controller must clear it whenever it looks.
    await custom.create_namespaced_custom_object(
        GROUP, VERSION, sources.namespace, "helmrepositories", body
    )
    await rest.request(
        sources.kube,
        "PATCH",
        RESOURCES["HelmRepository"].path(sources.namespace, "old", "status"),
        body={"status": {"observedGeneration": 1, "url": "http://stale.example/index.yaml"}},
        content_type=rest.MERGE_PATCH,
    )
    await sources.apply("HelmRepository", "old", {**body["spec"], "interval": "5m"})

    async def cleared() -> dict[str, object] | None:
        obj = await sources.get("HelmRepository", "old")
        if obj.get("status") or obj["metadata"].get("finalizers"):
            return None
        return obj

    await eventually(cleared, within=30, what="the static HelmRepository cleared")
    assert 'kind="HelmRepository"' not in metrics.objects.render().decode()


async def test_helmrepository_oci_wrong_credentials(sources: Sources, oci_registry: Pushed) -> None:
    """The repository says nothing (static); its HelmChart is refused by the registry."""
    await sources.secret("bad", {"username": USER, "password": "wrong"})
    await _oci_repository(sources, "oci", oci_registry.repo_url, "bad")
    await _chart(sources, "podinfo", "1.0.0", "oci")
    c = await _fetch_failed(sources, "HelmChart", "podinfo")
    assert c["reason"] == "AuthenticationFailed"
    assert "401" in c["message"]
    repo = await sources.get("HelmRepository", "oci")
    assert not repo.get("status")


async def test_helmchart_oci_anonymous_is_refused(sources: Sources, oci_registry: Pushed) -> None:
    """No secretRef: the registry refuses the chart's tag listing, and the HelmChart says
    so."""
    await _oci_repository(sources, "anon", oci_registry.repo_url)
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


def _layer_pulls(pushed: Pushed, version: str) -> int:
    """GETs of the chart layer of `version`: one per pull of the artifact."""
    layer = "sha256:" + hashlib.sha256(pushed.packages[version].read_bytes()).hexdigest()
    path = f"/v2/charts/podinfo/blobs/{layer}"
    return sum(1 for m, p, code in pushed.registry.requests() if (m, p, code) == ("GET", path, 200))


async def test_ocirepository_pulls_only_a_new_digest(
    sources: Sources, oci_registry: Pushed
) -> None:
    """Each reconcile resolves the tag to a digest; the same digest with the artifact still
    stored is not pulled again. Moving the tag to another manifest pulls once more."""
    registry = oci_registry.registry
    registry.retag("charts/podinfo", oci_registry.digests["1.0.0"], "stable")
    await _dockerconfig(sources, "regcred", registry.host, PASSWORD)
    spec = source_spec(
        oci_registry.chart_url, secret="regcred", insecure=True, ref={"tag": "stable"}
    )
    await sources.apply("OCIRepository", "app", spec)
    obj = await sources.ready("OCIRepository", "app")
    first = obj["status"]["artifact"]
    assert first["revision"] == f"stable@{oci_registry.digests['1.0.0']}"
    assert _layer_pulls(oci_registry, "1.0.0") == 1
    for n in range(3):
        obj = await sources.reconciled("OCIRepository", "app", f"same-{n}")
        assert obj["status"]["artifact"] == first
    assert _layer_pulls(oci_registry, "1.0.0") == 1
    heads = [
        p for m, p, _ in registry.requests() if m == "HEAD" and p.endswith("/manifests/stable")
    ]
    assert len(heads) >= 4, heads

    registry.retag("charts/podinfo", oci_registry.digests["1.2.0"], "stable")
    obj = await sources.reconciled("OCIRepository", "app", "moved")
    assert obj["status"]["artifact"]["revision"] == f"stable@{oci_registry.digests['1.2.0']}"
    files = _members(await sources.fetch_artifact(obj))
    assert files["podinfo/values.yaml"] == b"tag: '1.2.0'\n"
    obj = await sources.reconciled("OCIRepository", "app", "moved-again")
    assert _layer_pulls(oci_registry, "1.2.0") == 1
    assert _layer_pulls(oci_registry, "1.0.0") == 1


async def test_ocirepository_proxy_secret_ref(sources: Sources, oci_registry: Pushed) -> None:
    """Through an authenticating proxy, loopback registry included: the registry is reached by
    way of the proxy; wrong proxy credentials leave it not Ready, with the password in no
    condition."""
    registry = oci_registry.registry
    await _dockerconfig(sources, "regcred", registry.host, PASSWORD)
    async with running_proxy("proxy-user", "proxy-pass") as proxy:
        await sources.secret(
            "proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "proxy-pass"},
        )
        await sources.secret(
            "bad-proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "wrong-Pa55"},
        )
        base = source_spec(
            oci_registry.chart_url, secret="regcred", insecure=True, ref={"tag": "1.0.0"}
        )
        await sources.apply(
            "OCIRepository", "proxied", {**base, "proxySecretRef": {"name": "proxy"}}
        )
        await sources.apply(
            "OCIRepository", "refused", {**base, "proxySecretRef": {"name": "bad-proxy"}}
        )
        obj = await sources.ready("OCIRepository", "proxied")
        assert obj["status"]["artifact"]["revision"] == f"1.0.0@{oci_registry.digests['1.0.0']}"
        assert registry.host in proxy.targets, proxy.targets
        refused = await sources.failed("OCIRepository", "refused", "FetchFailed")
        assert proxy.refused > 0
        for c in refused["status"]["conditions"]:
            assert "wrong-Pa55" not in c["message"], c
        assert "407" in cond(refused, "FetchFailed")["message"], cond(refused, "FetchFailed")


async def test_ocirepository_over_tls_with_cert_secret_and_proxy(
    sources: Sources, tmp_path: Path, control_plane: ControlPlane
) -> None:
    """The registry serving HTTPS with a certificate of a test CA: Ready with certSecretRef's
    ca.crt, refused without it (the system CAs do not know the test CA); through a proxy, the
    TLS connection is a CONNECT tunnel to the registry."""
    ca = trustme.CA()
    registry = OCIRegistry(tmp_path / "tls-registry", USER, PASSWORD, tls=ca)
    registry.start()
    try:
        chart = write_chart(tmp_path / "tls-chart", "podinfo", "3.0.0")
        package = helm_package(control_plane.helm, chart, tmp_path / "tls-packages")
        digest = registry.push_chart(control_plane.helm, package, "charts", tmp_path / "helm")
        await _dockerconfig(sources, "regcred", registry.host, PASSWORD)
        await sources.secret("registry-ca", {"ca.crt": ca.cert_pem.bytes()})
        url = f"oci://{registry.host}/charts/podinfo"
        ref = {"tag": "3.0.0"}
        async with running_proxy("proxy-user", "proxy-pass") as proxy:
            await sources.secret(
                "proxy",
                {"address": proxy.address, "username": "proxy-user", "password": "proxy-pass"},
            )
            trusted = source_spec(url, secret="regcred", cert_secret="registry-ca", ref=ref)
            await sources.apply("OCIRepository", "trusted", trusted)
            await sources.apply(
                "OCIRepository", "tunnelled", {**trusted, "proxySecretRef": {"name": "proxy"}}
            )
            await sources.apply(
                "OCIRepository", "untrusted", source_spec(url, secret="regcred", ref=ref)
            )
            for name in ("trusted", "tunnelled"):
                obj = await sources.ready("OCIRepository", name)
                assert obj["status"]["artifact"]["revision"] == f"3.0.0@{digest}"
            assert registry.host in proxy.tunnels, proxy.tunnels
            refused = cond(
                await sources.failed("OCIRepository", "untrusted", "FetchFailed"), "FetchFailed"
            )
            assert "certificate signed by unknown authority" in refused["message"], refused
    finally:
        registry.stop()
