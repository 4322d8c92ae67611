"""GitRepository over smart HTTP (basic auth) and SSH (key + known_hosts), and HelmCharts
packaged from it."""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.charts import write_chart
from hack.testkit.git_server import GitHTTPServer, SSHServer, git
from tests.sources.conftest import Sources, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources


@pytest.fixture
def upstream(tmp_path: Path) -> dict[str, object]:
    """A bare repository `app.git`: main with two commits, tags v1.0.0 and v1.1.0 (annotated),
    a branch `dev`; charts/app depends on charts/lib through file://."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_chart(work / "charts", "lib", "0.1.0")
    write_chart(
        work / "charts",
        "app",
        "1.0.0",
        deps="dependencies:\n- name: lib\n  version: '>=0.1.0'\n  repository: file://../lib\n",
    )
    (work / "charts" / "app" / "values-prod.yaml").write_text("replicas: 5\n")
    (work / "logo.png").write_bytes(b"\x89PNG")
    (work / "docs").mkdir()
    (work / "docs" / "notes.md").write_text("notes\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    first = git(work, "rev-parse", "HEAD")
    git(work, "tag", "v1.0.0")
    (work / "CHANGES").write_text("two\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "two")
    second = git(work, "rev-parse", "HEAD")
    git(work, "tag", "-a", "v1.1.0", "-m", "release")
    git(work, "tag", "not-a-version")
    git(work, "branch", "dev", first)
    bare = tmp_path / "git" / "app.git"
    bare.parent.mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return {"bare": bare, "first": first, "second": second}


@pytest.fixture
async def git_http(tmp_path: Path, upstream: dict[str, object]) -> AsyncIterator[GitHTTPServer]:
    server = GitHTTPServer(tmp_path / "git", username="git", password="pat")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _gitrepo(
    sources: Sources, server: GitHTTPServer, name: str, ref: dict[str, str] | None, **spec: object
) -> None:
    with contextlib.suppress(ApiException):  # shared by the repositories of a test
        await sources.secret("git-auth", {"username": "git", "password": "pat"})
    body = source_spec(server.url("app.git"), secret="git-auth", **spec)
    if ref is not None:
        body["ref"] = ref
    await sources.apply("GitRepository", name, body)


def _names(data: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


async def test_gitrepository_refs_and_revisions(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    first, second = upstream["first"], upstream["second"]
    cases = {
        "branch": ({"branch": "main"}, f"main@sha1:{second}"),
        "tag": ({"branch": "main", "tag": "v1.0.0"}, f"v1.0.0@sha1:{first}"),
        "semver": ({"tag": "v1.0.0", "semver": ">=1.0.0"}, f"v1.1.0@sha1:{second}"),
        "name": ({"semver": "*", "name": "refs/heads/dev"}, f"refs/heads/dev@sha1:{first}"),
        "commit": (
            {"branch": "main", "name": "refs/heads/dev", "commit": first},
            f"main@sha1:{first}",
        ),
    }
    for name, (ref, _) in cases.items():
        await _gitrepo(sources, git_http, name, ref)
    for name, (_, revision) in cases.items():
        obj = await sources.ready("GitRepository", name)
        assert obj["status"]["artifact"]["revision"] == revision, name
    obj = await sources.get("GitRepository", "branch")
    assert (
        obj["status"]["artifact"]["path"]
        == f"gitrepository/{sources.namespace}/branch/{second}.tar.gz"
    )
    files = _names(await sources.fetch_artifact(obj))
    # Flux's default exclusions: images and VCS files are left out.
    assert "charts/app/Chart.yaml" in files
    assert "CHANGES" in files
    assert "logo.png" not in files
    assert not any(f.startswith(".git/") for f in files)


async def test_gitrepository_ignore_replaces_defaults(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _gitrepo(sources, git_http, "ignoring", {"branch": "main"}, ignore="docs/\n")
    obj = await sources.ready("GitRepository", "ignoring")
    files = _names(await sources.fetch_artifact(obj))
    assert "logo.png" in files  # the defaults no longer apply
    assert not any(f.startswith("docs/") for f in files)
    assert obj["status"]["observedIgnore"] == "docs/\n"


async def test_gitrepository_wrong_credentials_and_missing_branch(
    sources: Sources, git_http: GitHTTPServer
) -> None:
    await sources.secret("bad", {"username": "git", "password": "nope"})
    await sources.apply(
        "GitRepository",
        "denied",
        {"url": git_http.url("app.git"), "interval": "10m", "secretRef": {"name": "bad"}},
    )
    obj = await sources.failed("GitRepository", "denied", "FetchFailed")
    assert cond(obj, "FetchFailed")["reason"] == "AuthenticationFailed"
    await _gitrepo(sources, git_http, "nobranch", {"branch": "does-not-exist"})
    obj = await sources.failed("GitRepository", "nobranch", "FetchFailed")
    assert "does-not-exist" in cond(obj, "FetchFailed")["message"]


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SSHServer]:
    server = SSHServer(tmp_path / "sshd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _other_host_key(tmp_path: Path, port: int) -> bytes:
    key = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(key)], check=True)
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    return f"[127.0.0.1]:{port} {kind} {blob}\n".encode()


async def test_gitrepository_over_ssh(
    sources: Sources, sshd: SSHServer, upstream: dict[str, object], tmp_path: Path
) -> None:
    await sources.secret("ssh", {"identity": sshd.identity, "known_hosts": sshd.known_hosts})
    url = sshd.url(upstream["bare"])  # type: ignore[arg-type]
    await sources.apply(
        "GitRepository", "ssh", source_spec(url, secret="ssh", ref={"tag": "v1.0.0"})
    )
    obj = await sources.ready("GitRepository", "ssh")
    assert obj["status"]["artifact"]["revision"] == f"v1.0.0@sha1:{upstream['first']}"
    # An unknown host key is refused.
    await sources.secret(
        "ssh-unknown",
        {
            "identity": sshd.identity,
            "known_hosts": _other_host_key(tmp_path, sshd.port),
        },
    )
    await sources.apply("GitRepository", "ssh-unknown", source_spec(url, secret="ssh-unknown"))
    obj = await sources.failed("GitRepository", "ssh-unknown", "FetchFailed")
    assert "host key verification failed" in cond(obj, "FetchFailed")["message"].lower()


async def test_helmchart_from_gitrepository(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _gitrepo(sources, git_http, "app", {"branch": "main"})
    values_files = ["charts/app/values.yaml", "charts/app/values-prod.yaml"]
    chart = chart_spec(
        "charts/app", "GitRepository", "app", reconcileStrategy="Revision", valuesFiles=values_files
    )
    await sources.apply("HelmChart", "app", chart)
    obj = await sources.ready("HelmChart", "app")
    gen = obj["metadata"]["generation"]
    version = f"1.0.0+{upstream['second'][:12]}.{gen}"
    assert obj["status"]["artifact"]["revision"] == version
    assert obj["status"]["artifact"]["path"].endswith(f"/app-{version}.tgz")
    assert cond(obj, "Ready")["message"] == f"packaged 'app' chart with version '{version}'"
    data = await sources.fetch_artifact(obj)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        values = yaml.safe_load(tar.extractfile("app/values.yaml").read())  # type: ignore[union-attr]
    assert "app/charts/lib-0.1.0.tgz" in names
    assert "app/Chart.lock" in names
    assert values == {"replicas": 5}
    assert obj["status"]["observedSourceArtifactRevision"] == f"main@sha1:{upstream['second']}"

    await sources.apply(
        "HelmChart", "nochart", chart_spec("charts/missing", "GitRepository", "app")
    )
    obj = await sources.failed("HelmChart", "nochart", "BuildFailed")
    assert "no chart found at path 'charts/missing'" in cond(obj, "BuildFailed")["message"]
