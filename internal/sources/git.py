"""Git checkouts through the git CLI: ref precedence, shallow fetches, HTTP basic and bearer
auth, custom CAs and SSH identities with known_hosts. See docs/decisions.md for why the CLI."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from api.sources import GitRepositoryRef
from internal.sources.credentials import text
from internal.sources.semver import Constraint, SemverError, Version, parse_version
from internal.sources.subprocess import run_bounded


class GitError(Exception):
    """A git operation failed; the message carries git's own words, credentials removed."""


Ref = GitRepositoryRef


@dataclass(frozen=True)
class GitAuth:
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    ca: bytes | None = None
    identity: bytes | None = None
    known_hosts: bytes | None = None

    @classmethod
    def from_secret(cls, data: Mapping[str, bytes]) -> GitAuth:
        """A GitRepository's secretRef: basic auth or a bearer token for HTTP(S), identity
        and known_hosts for SSH, and a CA (`ca.crt`, or the older `caFile`)."""
        return cls(
            username=text(data, "username"),
            password=text(data, "password"),
            bearer_token=text(data, "bearerToken"),
            ca=data.get("ca.crt") or data.get("caFile"),
            identity=data.get("identity"),
            known_hosts=data.get("known_hosts"),
        )


@dataclass(frozen=True)
class Plan:
    """What to fetch for a ref: `fetch` is the refspec source, `label` the name before `@` in
    the revision (None for a bare commit), `commit` a commit to check out after fetching."""

    kind: str
    fetch: str | None
    label: str | None
    commit: str | None = None
    shallow: bool = True


def plan(ref: Ref | None, default_branch: str = "master") -> Plan:
    """Ref precedence, lowest to highest: branch < tag < semver < name < commit."""
    ref = ref or Ref()
    if ref.commit:
        if ref.branch:
            return Plan("commit", f"refs/heads/{ref.branch}", ref.branch, ref.commit, shallow=False)
        return Plan("commit", None, None, ref.commit, shallow=False)
    if ref.name:
        return Plan("name", ref.name, ref.name)
    if ref.semver:
        return Plan("semver", None, None)
    if ref.tag:
        return Plan("tag", f"refs/tags/{ref.tag}", ref.tag)
    branch = ref.branch or default_branch
    return Plan("branch", f"refs/heads/{branch}", branch)


def pick_semver_tag(tags: list[str], constraint: str) -> str | None:
    """The tag with the highest version satisfying `constraint`, ignoring tags that are not
    versions."""
    try:
        c = Constraint.parse(constraint)
    except SemverError as exc:
        raise GitError(f"semver parse error: {exc}") from None
    best: tuple[Version, str] | None = None
    for tag in tags:
        v = parse_version(tag)
        if v is None or not c.check(v):
            continue
        if best is None or v > best[0]:
            best = (v, tag)
    return best[1] if best else None


_CRED = re.compile(r"(https?://|socks5h?://|socks4a?://)[^/@\s]+@")


def _scrub(text: str) -> str:
    return _CRED.sub(r"\1***@", text).strip()


class SparsePathError(GitError):
    """A sparseCheckout directory that cannot be a directory of the repository."""


def sparse_directories(dirs: Sequence[str]) -> list[str]:
    """The sparseCheckout directories as paths relative to the root, a leading `./` or `/` and
    trailing slashes dropped; one that leaves the root, or is the root itself, is refused."""
    out: list[str] = []
    for raw in dirs:
        path = raw.strip()
        while path.startswith("./"):
            path = path[2:]
        path = path.strip("/")
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") for p in parts) or "\x00" in path:
            raise SparsePathError(
                f"sparse checkout dir '{raw}' is not a path inside the repository"
            )
        out.append(path)
    return out


_PATTERN_SPECIAL = re.compile(r"([\\*?\[\]!# ])")


def sparse_patterns(dirs: Sequence[str]) -> str:
    """git's (non-cone) sparse-checkout patterns for exactly these directories, anchored at the
    root, wildcards escaped: files at the root stay out, as in Flux."""
    escaped = (_PATTERN_SPECIAL.sub(r"\\\1", d) for d in dirs)
    return "".join(f"/{d}/\n" for d in escaped)


def missing_sparse_directories(tree: Path, dirs: Sequence[str]) -> list[str]:
    """The sparseCheckout directories the checked out tree does not have."""
    return [d for d in dirs if not (tree / d).is_dir() or (tree / d).is_symlink()]


def drop_submodule_git_files(tree: Path) -> None:
    """Remove the `.git` files (gitdir pointers) git leaves in submodule checkouts: they are
    metadata of this checkout, not content, and mean nothing in an artifact."""
    for path in tree.rglob(".git"):
        if path.parent != tree and path.is_file() and not path.is_symlink():
            path.unlink()


def http_origin(url: str) -> str | None:
    """scheme://host[:port]/ of an HTTP(S) URL, the prefix git matches `http.<url>.*` against."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/"


def is_ssh(url: str) -> bool:
    return url.startswith("ssh://") or re.match(r"^[\w.-]+@[\w.-]+:", url) is not None


class Git:
    """Runs git for one checkout, with its credentials confined to a private directory."""

    def __init__(
        self, url: str, auth: GitAuth, workdir: Path, timeout: float, *, proxy: str | None = None
    ) -> None:
        self.url = url
        self.auth = auth
        self.workdir = workdir
        self.timeout = timeout
        self.home = workdir / ".home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.config: list[str] = ["-c", "protocol.version=2", "-c", "core.hooksPath=/dev/null"]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
        }
        # Scoped to the repository's origin: submodules there get the same credentials (as in
        # Flux), a submodule on another host gets none.
        header = f"http.{http_origin(url)}.extraHeader" if http_origin(url) else "http.extraHeader"
        if auth.bearer_token:
            self.config += ["-c", f"{header}=Authorization: Bearer {auth.bearer_token}"]
        elif auth.username is not None:
            token = base64.b64encode(f"{auth.username}:{auth.password or ''}".encode()).decode()
            self.config += ["-c", f"{header}=Authorization: Basic {token}"]
        if auth.ca:
            ca = self.home / "ca.crt"
            ca.write_bytes(auth.ca)
            self.config += ["-c", f"http.sslCAInfo={ca}"]
        if url.startswith("ssh://") or re.match(r"^[\w.-]+@[\w.-]+:", url):
            ssh = ["ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
            if auth.identity:
                key = self.home / "identity"
                key.touch(mode=0o600)
                key.write_bytes(
                    auth.identity if auth.identity.endswith(b"\n") else auth.identity + b"\n"
                )
                ssh += ["-i", str(key)]
            if auth.known_hosts:
                kh = self.home / "known_hosts"
                kh.write_bytes(auth.known_hosts)
                ssh += ["-o", f"UserKnownHostsFile={kh}", "-o", "StrictHostKeyChecking=yes"]
            else:
                ssh += ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null"]
            self.env["GIT_SSH_COMMAND"] = " ".join(ssh)
        if proxy is not None:
            self._use_proxy(proxy)

    def _use_proxy(self, proxy: str) -> None:
        # Through the environment, not -c: the credentials in the URL stay out of argv.
        self._env_config("http.proxy", proxy)
        self._env_config("http.proxyAuthMethod", "basic")

    def _env_config(self, key: str, value: str) -> None:
        n = int(self.env.get("GIT_CONFIG_COUNT", "0"))
        self.env[f"GIT_CONFIG_KEY_{n}"] = key
        self.env[f"GIT_CONFIG_VALUE_{n}"] = value
        self.env["GIT_CONFIG_COUNT"] = str(n + 1)

    async def run(self, *args: str, cwd: Path | None = None) -> str:
        try:
            code, out, err = await run_bounded(
                ("git", *self.config, *args),
                cwd=cwd or self.workdir,
                env=self.env,
                deadline=self.timeout,
            )
        except TimeoutError:
            raise GitError(f"git {args[0]} timed out after {self.timeout:g}s") from None
        if code != 0:
            raise GitError(_scrub(err.decode(errors="replace")) or f"git {args[0]} failed")
        return out.decode(errors="replace")

    async def ls_remote(self, *options: str) -> dict[str, str]:
        """Remote refs to their commits, annotated tags peeled."""
        out = await self.run("ls-remote", *options, self.url)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name.endswith("^{}"):
                refs[name[:-3]] = sha
            else:
                refs.setdefault(name, sha)
        return refs

    async def checkout(
        self,
        ref: Ref | None,
        dest: Path,
        *,
        sparse: Sequence[str] = (),
        submodules: bool = False,
    ) -> tuple[str, str]:
        """Fetch and check out `ref` into `dest`; returns (revision label, commit). With
        `sparse`, only those directories are checked out; with `submodules`, the submodules
        are too, recursively, with the same credentials."""
        p = plan(ref)
        fetch = p.fetch
        label = p.label
        if p.kind == "semver":
            assert ref is not None
            assert ref.semver is not None
            tags = [n.removeprefix("refs/tags/") for n in await self.ls_remote("--tags")]
            tag = pick_semver_tag(tags, ref.semver)
            if tag is None:
                raise GitError(f"no match found for semver: {ref.semver}")
            fetch, label = f"refs/tags/{tag}", tag
        await self.run("init", "-q", str(dest))
        if sparse:
            await self._sparse(dest, sparse)
        depth = ["--depth=1"] if p.shallow else []
        if fetch is not None:
            try:
                await self.run("fetch", "-q", "--no-tags", *depth, self.url, fetch, cwd=dest)
            except GitError as exc:
                if "couldn't find remote ref" in str(exc):
                    what = {"branch": "branch", "tag": "tag", "name": "reference"}.get(
                        p.kind, "ref"
                    )
                    raise GitError(f"unable to resolve {what} '{label}': {exc}") from None
                raise
            target = p.commit or "FETCH_HEAD"
        else:
            await self.run(
                "fetch",
                "-q",
                "--no-tags",
                self.url,
                "+refs/heads/*:refs/remotes/origin/*",
                cwd=dest,
            )
            target = p.commit or "FETCH_HEAD"
        try:
            await self.run(
                "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", target, cwd=dest
            )
        except GitError as exc:
            raise GitError(f"unable to resolve commit '{p.commit}': {exc}") from None
        commit = (await self.run("rev-parse", "HEAD", cwd=dest)).strip()
        if p.commit and not commit.startswith(p.commit):
            raise GitError(f"commit '{p.commit}' not found")
        if submodules:
            await self._submodules(dest, sparse)
        return label or "", commit

    async def _sparse(self, dest: Path, dirs: Sequence[str]) -> None:
        await self.run("config", "core.sparseCheckout", "true", cwd=dest)
        info = dest / ".git" / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "sparse-checkout").write_text(sparse_patterns(dirs))

    async def _submodules(self, dest: Path, within: Sequence[str]) -> None:
        # Relative submodule URLs resolve against the remote; local paths are never fetched.
        await self.run("config", "remote.origin.url", self.url, cwd=dest)
        await self.run(
            "-c",
            "protocol.file.allow=never",
            "-c",
            "protocol.ext.allow=never",
            "--literal-pathspecs",
            "submodule",
            "update",
            "--init",
            "--recursive",
            "--quiet",
            "--",
            *(within or ["."]),
            cwd=dest,
        )
        await asyncio.to_thread(drop_submodule_git_files, dest)
