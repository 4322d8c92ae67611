"""The decisions behind the GitRepository checkout options, and the git client running them
against the testkit's smart HTTP server and proxy, without a cluster."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import tarfile
from pathlib import Path

import pytest

from api.meta import Artifact
from api.sources import GitRepositoryInclude, GitRepositorySpec, GitRepositoryStatus
from hack.testkit.git_server import GitHTTPServer
from hack.testkit.proxy import running_proxy
from internal.sources import git, gitinclude
from internal.sources.proxy import Proxy, ProxySecretError
from tests.sources.test_git import git_http as git_http
from tests.sources.test_git import upstream as upstream
from tests.sources.test_git_checkout import with_submodules as with_submodules

# --- sparse directories ------------------------------------------------------------------------


def test_sparse_directories_are_relative_paths_inside_the_repository() -> None:
    assert git.sparse_directories(["./charts/", "/docs", "a/b"]) == ["charts", "docs", "a/b"]
    for bad in ("..", "../etc", "a/../../b", ".", "./", "", "a//b"):
        with pytest.raises(git.SparsePathError, match="is not a path inside the repository"):
            git.sparse_directories([bad])


def test_sparse_patterns_are_anchored_directories_with_wildcards_escaped() -> None:
    assert git.sparse_patterns(["charts", "a/b"]) == "/charts/\n/a/b/\n"
    assert git.sparse_patterns(["we*rd", "!x", "#y", "a b"]) == (
        "/we\\*rd/\n/\\!x/\n/\\#y/\n/a\\ b/\n"
    )


def test_missing_sparse_directories(tmp_path: Path) -> None:
    (tmp_path / "there").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "there")
    assert git.missing_sparse_directories(tmp_path, ["there", "file", "link", "gone"]) == [
        "file",
        "link",
        "gone",
    ]


# --- proxy -------------------------------------------------------------------------------------


def test_proxy_from_secret() -> None:
    proxy = Proxy.from_secret(
        {"address": b"http://proxy:3128", "username": b"me", "password": b"p@ss/w:rd"}
    )
    assert proxy.url() == "http://me:p%40ss%2Fw%3Ard@proxy:3128"
    assert Proxy.from_secret({"address": b"socks5://proxy:1080"}).url() == "socks5://proxy:1080"
    assert proxy.scrub("bad p@ss/w:rd and p%40ss%2Fw%3Ard") == "bad *** and ***"
    for data, message in (
        ({}, "key 'address' not found"),
        ({"address": b" "}, "proxy address is empty"),
        ({"address": b"proxy:3128"}, "must be a URL with a host"),
        ({"address": b"ftp://proxy"}, "must be a URL with a host"),
        ({"address": b"http://u:secret@proxy"}, "must not hold credentials"),
    ):
        with pytest.raises(ProxySecretError, match=message) as info:
            Proxy.from_secret(data)
        assert "u:secret" not in str(info.value)


def test_an_ssh_url_is_told_apart() -> None:
    assert git.is_ssh("ssh://git@host/repo.git")
    assert git.is_ssh("git@host:org/repo.git")
    assert not git.is_ssh("https://host/repo.git")


# --- include -----------------------------------------------------------------------------------


def _include(name: str, **paths: str) -> GitRepositoryInclude:
    return GitRepositoryInclude.model_validate({"repository": {"name": name}, **paths})


def test_include_paths_default_and_stay_inside() -> None:
    assert gitinclude.include_paths(_include("lib")) == gitinclude.IncludePaths("", "lib")
    assert gitinclude.include_paths(
        _include("lib", fromPath="./deploy/", toPath="base/app")
    ) == gitinclude.IncludePaths("deploy", "base/app")
    for paths, message in (
        ({"toPath": "../x"}, "toPath '../x' of include 'lib' leaves the artifact"),
        ({"toPath": "a/../../x"}, "leaves the artifact"),
        ({"fromPath": "/etc"}, "fromPath '/etc' of include 'lib' must be a relative path"),
        ({"toPath": "."}, "is the root"),
    ):
        with pytest.raises(gitinclude.IncludePathError, match=message):
            gitinclude.include_paths(_include("lib", **paths))


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_copy_include_merges_a_subdirectory_and_never_writes_through_a_link(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "inc.tar.gz"
    archive.write_bytes(_tgz({"deploy/a.yaml": b"a", "deploy/sub/b.yaml": b"b", "top": b"t"}))
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "base").mkdir(parents=True)
    outside.mkdir()
    (tree / "base" / "own.yaml").write_text("own")
    (tree / "base" / "sub").symlink_to(outside)  # a link in the checkout, in the way
    paths = gitinclude.IncludePaths("deploy", "base")
    gitinclude.copy_include(archive, paths, tree, max_total=1 << 20, scratch=tmp_path)
    assert (tree / "base" / "a.yaml").read_text() == "a"
    assert (tree / "base" / "own.yaml").read_text() == "own"
    assert not (tree / "base" / "sub").is_symlink()
    assert (tree / "base" / "sub" / "b.yaml").read_text() == "b"
    assert list(outside.iterdir()) == []
    assert not (tree / "base" / "top").exists()
    with pytest.raises(FileNotFoundError, match="no directory 'missing'"):
        gitinclude.copy_include(
            archive,
            gitinclude.IncludePaths("missing", "x"),
            tree,
            max_total=1 << 20,
            scratch=tmp_path,
        )
    (tree / "escape").symlink_to(outside)
    with pytest.raises(gitinclude.IncludePathError, match="leaves the artifact"):
        gitinclude.copy_include(
            archive,
            gitinclude.IncludePaths("deploy", "escape/in"),
            tree,
            max_total=1 << 20,
            scratch=tmp_path,
        )
    assert list(outside.iterdir()) == []


def _artifact(revision: str, digest: str = "sha256:" + "0" * 64) -> Artifact:
    return Artifact(
        path="p",
        url="u",
        revision=revision,
        digest=digest,
        last_update_time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def test_content_changed_compares_what_the_artifact_was_built_from() -> None:
    include = [{"repository": {"name": "lib"}, "toPath": "x"}]
    base = {"url": "https://h/r.git", "interval": "1m", "sparseCheckout": ["a"], "include": include}
    spec = GitRepositorySpec.model_validate(base)
    lib = _artifact("main@sha1:1")
    status = GitRepositoryStatus.model_validate(
        {
            "observedSparseCheckout": ["a"],
            "observedInclude": include,
            "includedArtifacts": [lib.to_wire()],
        }
    )
    assert not gitinclude.content_changed(spec, status, [lib])
    assert gitinclude.content_changed(spec, None, [lib])
    assert gitinclude.content_changed(spec, status, [_artifact("main@sha1:2")])
    assert gitinclude.content_changed(spec, status, [_artifact(lib.revision, "sha256:" + "1" * 64)])
    for change in (
        {"sparseCheckout": ["b"]},
        {"sparseCheckout": None},
        {"recurseSubmodules": True},
        {"ignore": "x/"},
        {"include": [{"repository": {"name": "lib"}, "toPath": "y"}]},
    ):
        other = GitRepositorySpec.model_validate({**base, **change})
        assert gitinclude.content_changed(other, status, [lib]), change


# --- the client against the servers ------------------------------------------------------------


def _tree(root: Path) -> set[str]:
    """The files of a checkout but its own .git directory: a submodule's `.git` file shows."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != ".git"
    }


async def test_client_sparse_submodules_and_proxy(
    tmp_path: Path, git_http: GitHTTPServer, with_submodules: str
) -> None:
    auth = git.GitAuth(username="git", password="pat")
    ref = git.Ref(branch="main")
    url = git_http.url("super.git")

    async def checkout(name: str, **options: object) -> set[str]:
        client = git.Git(url, auth, tmp_path / name, 30, proxy=options.pop("proxy", None))  # type: ignore[arg-type]
        _, commit = await client.checkout(ref, tmp_path / name / "tree", **options)  # type: ignore[arg-type]
        assert commit == with_submodules
        return _tree(tmp_path / name / "tree")

    full = await checkout("full")
    assert full == {".gitmodules", "README.md", "apps/a.yaml"}
    assert await checkout("sparse", sparse=["apps"]) == {"apps/a.yaml"}
    deep = {"vendor/lib/lib.txt", "vendor/lib/.gitmodules", "vendor/lib/deep/deep.txt"}
    assert await checkout("recursive", submodules=True) == full | deep
    # Submodules outside the sparse directories stay out.
    assert await checkout("both", sparse=["apps"], submodules=True) == {"apps/a.yaml"}
    assert await checkout("both-in", sparse=["vendor"], submodules=True) == deep

    async with running_proxy("pu", "pp") as proxy:
        good = Proxy(proxy.address, "pu", "pp").url()
        assert await checkout("proxied", proxy=good, submodules=True) == full | deep
        assert set(proxy.targets) == {f"127.0.0.1:{git_http.port}"}
        bad = Proxy(proxy.address, "pu", "wrong-pw").url()
        with pytest.raises(git.GitError, match="407") as info:
            await checkout("refused", proxy=bad)
        assert "wrong-pw" not in str(info.value)
        assert proxy.refused >= 1


async def test_submodule_credentials_stay_on_the_origin(
    tmp_path: Path, git_http: GitHTTPServer, upstream: dict[str, object]
) -> None:
    """A submodule on another host gets no credentials of the superproject: the header is
    scoped to the repository's scheme, host and port."""
    client = git.Git(git_http.url("app.git"), git.GitAuth(username="u", password="p"), tmp_path, 5)
    keys = [
        client.config[i + 1].partition("=")[0] for i, a in enumerate(client.config) if a == "-c"
    ]
    assert f"http.http://127.0.0.1:{git_http.port}/.extraHeader" in keys
    assert "http.extraHeader" not in keys
