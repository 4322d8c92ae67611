"""GitRepository checkout options against the testkit git servers: sparseCheckout,
recurseSubmodules, proxySecretRef and include."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from hack.testkit.chart_server import CA
from hack.testkit.git_server import GitHTTPServer, SSHServer, git
from hack.testkit.proxy import running_proxy
from hack.testkit.wait import eventually
from tests.sources.conftest import Sources, cond
from tests.sources.specs import source_spec
from tests.sources.test_git import git_http as git_http
from tests.sources.test_git import sshd as sshd
from tests.sources.test_git import upstream as upstream

pytestmark = pytest.mark.sources


def _names(data: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


async def _auth(sources: Sources) -> None:
    await sources.secret("git-auth", {"username": "git", "password": "pat"})


def _spec(server: GitHTTPServer, repo: str = "app.git", **fields: object) -> dict[str, object]:
    return source_spec(server.url(repo), secret="git-auth", ref={"branch": "main"}, **fields)


async def _files(sources: Sources, obj: dict[str, Any]) -> set[str]:
    return _names(await sources.fetch_artifact(obj))


# --- sparseCheckout ----------------------------------------------------------------------------


async def test_sparse_checkout_holds_only_the_directories(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    """Only the directories asked for, no file of the root (as go-git's sparse checkout in
    Flux); the revision is the full checkout's; a change of the list rebuilds the artifact."""
    await _auth(sources)
    revision = f"main@sha1:{upstream['second']}"
    await sources.apply(
        "GitRepository", "sparse", _spec(git_http, sparseCheckout=["charts/app", "./docs/"])
    )
    obj = await sources.ready("GitRepository", "sparse")
    assert obj["status"]["artifact"]["revision"] == revision
    assert obj["status"]["observedSparseCheckout"] == ["charts/app", "./docs/"]
    assert await _files(sources, obj) == {
        "charts/app/Chart.yaml",
        "charts/app/values.yaml",
        "charts/app/values-prod.yaml",
        "charts/app/templates/configmap.yaml",
        "docs/notes.md",
    }
    first_digest = obj["status"]["artifact"]["digest"]

    await sources.apply("GitRepository", "sparse", _spec(git_http, sparseCheckout=["docs"]))
    obj = await sources.ready("GitRepository", "sparse")
    assert obj["status"]["artifact"]["revision"] == revision
    assert obj["status"]["observedSparseCheckout"] == ["docs"]
    assert obj["status"]["artifact"]["digest"] != first_digest
    assert await _files(sources, obj) == {"docs/notes.md"}

    # Back to the whole tree: the observation is cleared, the root files are back.
    await sources.apply("GitRepository", "sparse", _spec(git_http))
    obj = await sources.ready("GitRepository", "sparse")
    assert "observedSparseCheckout" not in obj["status"]
    assert "CHANGES" in await _files(sources, obj)


async def test_sparse_checkout_of_a_missing_or_outside_directory_fails(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _auth(sources)
    await sources.apply("GitRepository", "missing", _spec(git_http, sparseCheckout=["nope"]))
    obj = await sources.failed("GitRepository", "missing", "FetchFailed")
    failed = cond(obj, "FetchFailed")
    assert failed["reason"] == "GitOperationFailed"
    assert failed["message"] == (
        "failed to sparse checkout directories: sparse checkout dir 'nope' does not exist "
        "in repository"
    )
    assert "artifact" not in obj["status"]
    await sources.apply("GitRepository", "outside", _spec(git_http, sparseCheckout=["../etc"]))
    obj = await sources.wait("GitRepository", "outside", "Stalled", "True")
    assert cond(obj, "FetchFailed")["reason"] == "GitOperationFailed"
    assert "'../etc' is not a path inside the repository" in cond(obj, "Ready")["message"]


# --- recurseSubmodules -------------------------------------------------------------------------


def _bare(work: Path, dest: Path) -> None:
    git(work.parent, "clone", "-q", "--bare", str(work), str(dest))


def _commit(work: Path, files: dict[str, str], submodules: dict[str, tuple[str, str]]) -> str:
    """A repository at `work` with `files` and gitlinks `path: (url, commit)`."""
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for name, content in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(content)
    modules = "".join(
        f'[submodule "{path}"]\n\tpath = {path}\n\turl = {url}\n'
        for path, (url, _) in submodules.items()
    )
    if modules:
        (work / ".gitmodules").write_text(modules)
    git(work, "add", "-A")
    for path, (_, commit) in submodules.items():
        git(work, "update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")
    git(work, "commit", "-q", "-m", "init")
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def with_submodules(tmp_path: Path, upstream: dict[str, object]) -> str:
    """`super.git` on the same server as app.git: `vendor/lib` is `lib.git` (a relative URL),
    which has `deep.git` as its submodule `deep`; returns super's commit."""
    root = tmp_path / "git"
    deep = _commit(tmp_path / "deep", {"deep.txt": "deep\n"}, {})
    _bare(tmp_path / "deep", root / "deep.git")
    lib = _commit(tmp_path / "lib", {"lib.txt": "lib\n"}, {"deep": ("../deep.git", deep)})
    _bare(tmp_path / "lib", root / "lib.git")
    top = _commit(
        tmp_path / "super",
        {"README.md": "top\n", "apps/a.yaml": "a: 1\n"},
        {"vendor/lib": ("../lib.git", lib)},
    )
    _bare(tmp_path / "super", root / "super.git")
    return top


async def test_recurse_submodules_checks_them_out_with_the_same_credentials(
    sources: Sources, git_http: GitHTTPServer, with_submodules: str
) -> None:
    """The submodules live behind the same basic auth: they are fetched with the
    GitRepository's credentials, recursively."""
    await _auth(sources)
    await sources.apply("GitRepository", "plain", _spec(git_http, "super.git"))
    await sources.apply(
        "GitRepository", "recursive", _spec(git_http, "super.git", recurseSubmodules=True)
    )
    plain = await sources.ready("GitRepository", "plain")
    recursive = await sources.ready("GitRepository", "recursive")
    revision = f"main@sha1:{with_submodules}"
    assert plain["status"]["artifact"]["revision"] == revision
    assert recursive["status"]["artifact"]["revision"] == revision
    assert "observedRecurseSubmodules" not in plain["status"]
    assert recursive["status"]["observedRecurseSubmodules"] is True
    plain_files = await _files(sources, plain)
    assert not any(f.startswith("vendor/") for f in plain_files)
    assert plain_files == {"README.md", "apps/a.yaml"}  # .gitmodules is left out by default
    files = await _files(sources, recursive)
    assert files == plain_files | {"vendor/lib/lib.txt", "vendor/lib/deep/deep.txt"}

    # Turned off again: the same revision, rebuilt without them.
    await sources.apply("GitRepository", "recursive", _spec(git_http, "super.git"))
    obj = await sources.ready("GitRepository", "recursive")
    assert "observedRecurseSubmodules" not in obj["status"]
    assert await _files(sources, obj) == plain_files


# --- proxySecretRef ----------------------------------------------------------------------------


async def test_proxy_secret_ref_sends_the_checkout_through_the_proxy(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _auth(sources)
    async with running_proxy("proxy-user", "proxy-pass") as proxy:
        await sources.secret(
            "proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "proxy-pass"},
        )
        await sources.secret(
            "bad-proxy",
            {"address": proxy.address, "username": "proxy-user", "password": "s3cr3t-wrong"},
        )
        await sources.secret("no-address", {"username": "proxy-user"})
        await sources.apply(
            "GitRepository", "proxied", _spec(git_http, proxySecretRef={"name": "proxy"})
        )
        obj = await sources.ready("GitRepository", "proxied")
        assert obj["status"]["artifact"]["revision"] == f"main@sha1:{upstream['second']}"
        assert f"127.0.0.1:{git_http.port}" in proxy.targets
        assert proxy.refused == 0

        await sources.apply(
            "GitRepository", "refused", _spec(git_http, proxySecretRef={"name": "bad-proxy"})
        )
        obj = await sources.failed("GitRepository", "refused", "FetchFailed")
        failed = cond(obj, "FetchFailed")
        assert failed["reason"] == "AuthenticationFailed"
        assert "407" in failed["message"]
        assert proxy.refused > 0
        for c in obj["status"]["conditions"]:
            assert "s3cr3t-wrong" not in c["message"]
        assert "artifact" not in obj["status"]

        await sources.apply(
            "GitRepository", "unaddressed", _spec(git_http, proxySecretRef={"name": "no-address"})
        )
        obj = await sources.failed("GitRepository", "unaddressed", "FetchFailed")
        assert cond(obj, "FetchFailed")["reason"] == "AuthenticationFailed"
        assert cond(obj, "FetchFailed")["message"] == (
            "failed to configure proxy options: invalid proxy secret "
            f"'{sources.namespace}/no-address': key 'address' not found"
        )


# --- include -----------------------------------------------------------------------------------


async def test_include_copies_the_included_artifacts_and_follows_them(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    """Two includes of one GitRepository: a subdirectory to a path of choice, and its whole
    artifact under its name. A new artifact of the included repository wakes the including
    one, whose artifact (same commit) is rebuilt with the new content."""
    await _auth(sources)
    await sources.apply(
        "GitRepository",
        "shared",
        source_spec(git_http.url("app.git"), secret="git-auth", ref={"tag": "v1.0.0"}),
    )
    includes = [
        {"repository": {"name": "shared"}, "fromPath": "charts/lib", "toPath": "vendor/lib"},
        {"repository": {"name": "shared"}},
    ]
    await sources.apply("GitRepository", "app", _spec(git_http, include=includes))
    shared = await sources.ready("GitRepository", "shared")
    app = await sources.ready("GitRepository", "app")
    assert app["status"]["artifact"]["revision"] == f"main@sha1:{upstream['second']}"
    assert app["status"]["observedInclude"] == includes
    included = app["status"]["includedArtifacts"]
    assert [a["revision"] for a in included] == [f"v1.0.0@sha1:{upstream['first']}"] * 2
    assert [a["digest"] for a in included] == [shared["status"]["artifact"]["digest"]] * 2
    files = await _files(sources, app)
    assert {
        "CHANGES",
        "vendor/lib/Chart.yaml",
        "vendor/lib/templates/configmap.yaml",
        "shared/charts/app/Chart.yaml",
        "shared/docs/notes.md",
    } <= files
    assert "shared/CHANGES" not in files  # only in the second commit
    before = app["status"]["artifact"]

    # The included repository moves on: the including one follows, woken (its interval is
    # ten minutes).
    await sources.apply(
        "GitRepository",
        "shared",
        source_spec(git_http.url("app.git"), secret="git-auth", ref={"branch": "main"}),
    )

    async def rebuilt() -> dict[str, Any] | None:
        obj = await sources.get("GitRepository", "app")
        arts = (obj.get("status") or {}).get("includedArtifacts") or []
        moved = arts and arts[0]["revision"] == f"main@sha1:{upstream['second']}"
        return obj if moved else None

    app = await eventually(rebuilt, within=60, what="the including repository to follow")
    assert app["status"]["artifact"]["revision"] == before["revision"]
    assert app["status"]["artifact"]["digest"] != before["digest"]
    assert "shared/CHANGES" in await _files(sources, app)


async def test_include_waits_for_the_included_repository(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _auth(sources)
    include = [{"repository": {"name": "later"}, "toPath": "later"}]
    await sources.apply("GitRepository", "waiting", _spec(git_http, include=include))
    obj = await sources.failed("GitRepository", "waiting", "IncludeUnavailable")
    unavailable = cond(obj, "IncludeUnavailable")
    assert unavailable["reason"] == "NotFound"
    assert "could not get resource for include 'later'" in unavailable["message"]
    assert cond(obj, "Ready")["reason"] == "NotFound"
    assert "artifact" not in obj["status"]

    # Appearing with an artifact wakes the including repository: it becomes Ready well
    # before its retry.
    await sources.apply(
        "GitRepository",
        "later",
        source_spec(git_http.url("app.git"), secret="git-auth", ref={"tag": "v1.0.0"}),
    )
    obj = await sources.ready("GitRepository", "waiting", within=25)
    assert not any(c["type"] == "IncludeUnavailable" for c in obj["status"]["conditions"])
    assert "later/charts/lib/Chart.yaml" in await _files(sources, obj)


async def test_include_paths_must_stay_inside_the_artifacts(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    await _auth(sources)
    cases = {
        "up": {"repository": {"name": "app"}, "toPath": "../escape"},
        "absolute": {"repository": {"name": "app"}, "fromPath": "/etc"},
    }
    for name, include in cases.items():
        await sources.apply("GitRepository", name, _spec(git_http, include=[include]))
    for name in cases:
        obj = await sources.wait("GitRepository", name, "Stalled", "True")
        failed = cond(obj, "StorageOperationFailed")
        assert failed["reason"] == "IllegalPath", failed
        assert failed["message"].startswith("path calculation for include 'app' failed: ")
    assert (
        "leaves the artifact" in cond(await sources.get("GitRepository", "up"), "Ready")["message"]
    )
    assert (
        "must be a relative path"
        in cond(await sources.get("GitRepository", "absolute"), "Ready")["message"]
    )


# --- over SSH ----------------------------------------------------------------------------------


async def test_sparse_checkout_and_submodules_over_ssh(
    sources: Sources, sshd: SSHServer, with_submodules: str, tmp_path: Path
) -> None:
    """The relative submodule URLs resolve against the ssh:// URL, and the same identity and
    known_hosts reach them; the sparse directories keep only the submodule inside them."""
    await sources.secret("ssh", {"identity": sshd.identity, "known_hosts": sshd.known_hosts})
    url = sshd.url(tmp_path / "git" / "super.git")
    spec = source_spec(url, secret="ssh", ref={"branch": "main"}, recurseSubmodules=True)
    await sources.apply("GitRepository", "ssh-all", spec)
    await sources.apply("GitRepository", "ssh-vendor", {**spec, "sparseCheckout": ["vendor"]})
    obj = await sources.ready("GitRepository", "ssh-all")
    assert obj["status"]["artifact"]["revision"] == f"main@sha1:{with_submodules}"
    deep = {"vendor/lib/lib.txt", "vendor/lib/deep/deep.txt"}
    assert await _files(sources, obj) == {"README.md", "apps/a.yaml", *deep}
    obj = await sources.ready("GitRepository", "ssh-vendor")
    assert obj["status"]["artifact"]["revision"] == f"main@sha1:{with_submodules}"
    assert await _files(sources, obj) == deep


async def test_proxy_tunnels_https_with_the_repository_ca(
    sources: Sources, tmp_path: Path, upstream: dict[str, str]
) -> None:
    """An HTTPS repository through the proxy: a CONNECT tunnel to it, its certificate checked
    against the secretRef's CA."""
    ca = CA()
    server = GitHTTPServer(
        tmp_path / "git", username="git", password="pat", tls=ca.server_context()
    )
    await server.start()
    try:
        await sources.secret("tls-auth", {"username": "git", "password": "pat", "ca.crt": ca.pem})
        async with running_proxy("proxy-user", "proxy-pass") as proxy:
            await sources.secret(
                "proxy",
                {"address": proxy.address, "username": "proxy-user", "password": "proxy-pass"},
            )
            spec = source_spec(
                server.url("app.git"),
                secret="tls-auth",
                ref={"branch": "main"},
                proxySecretRef={"name": "proxy"},
            )
            await sources.apply("GitRepository", "tunnelled", spec)
            obj = await sources.ready("GitRepository", "tunnelled")
            assert obj["status"]["artifact"]["revision"] == f"main@sha1:{upstream['second']}"
            assert set(proxy.tunnels) == {f"127.0.0.1:{server.port}"}
            assert proxy.forwarded == []
    finally:
        await server.stop()


async def test_repositories_including_each_other_settle(
    sources: Sources, git_http: GitHTTPServer, upstream: dict[str, str]
) -> None:
    """Wake-ups follow the included revision, not its digest: two repositories including each
    other are rebuilt once each, and then stay as they are (no loop of ever growing
    artifacts)."""
    await _auth(sources)
    await sources.apply("GitRepository", "left", _spec(git_http))
    await sources.apply("GitRepository", "right", _spec(git_http, sparseCheckout=["docs"]))
    await sources.ready("GitRepository", "left")
    await sources.ready("GitRepository", "right")
    await sources.apply(
        "GitRepository", "left", _spec(git_http, include=[{"repository": {"name": "right"}}])
    )
    await sources.ready("GitRepository", "left")
    await sources.apply(
        "GitRepository",
        "right",
        _spec(git_http, sparseCheckout=["docs"], include=[{"repository": {"name": "left"}}]),
    )
    right = await sources.ready("GitRepository", "right")
    assert "left/right/docs/notes.md" in await _files(sources, right)
    settled = {
        n: (await sources.get("GitRepository", n))["status"]["artifact"]["digest"]
        for n in ("left", "right")
    }
    await asyncio.sleep(6)
    for name, digest in settled.items():
        assert (await sources.get("GitRepository", name))["status"]["artifact"]["digest"] == digest
