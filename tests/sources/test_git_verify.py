"""GitRepository spec.verify: commit and tag signatures made by the test with real gpg and
ssh-keygen, served over smart HTTP, checked against the public keys of a Secret."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from api.meta import RECONCILE_REQUEST_ANNOTATION, timestamp
from controller.sources.context import RESOURCES
from hack.testkit.git_server import GitHTTPServer, git
from hack.testkit.gitsign import PGPKey, SSHKey, signed_commit, signed_tag
from hack.testkit.wait import eventually
from internal.artifacts import storage as st
from internal.kube import rest
from tests.sources.conftest import Sources, cond
from tests.sources.specs import source_spec

pytestmark = pytest.mark.sources


@dataclass(frozen=True)
class Signed:
    """The upstream repository and the keys that signed it."""

    pgp: PGPKey
    other: PGPKey
    ssh: SSHKey
    main: str
    """A commit signed with `pgp`; signed tag v1.0.0, lightweight v0.9.0, unsigned v0.8.0."""
    by_ssh: str
    """Branch `ssh`: a commit signed with `ssh`; tag v2.0.0 signed with `ssh`."""
    unsigned: str
    """Branch `unsigned`: a commit nobody signed; tag v3.0.0 signed with `pgp`."""
    tags: dict[str, str]
    """The annotated tags' objects."""
    bare: Path


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Signed]:
    pgp = PGPKey()
    other = PGPKey("Other <other@example.com>")
    ssh = SSHKey(tmp_path / "keys" / "ssh" / "id_ed25519")
    try:
        work = tmp_path / "work"
        work.mkdir()
        git(work, "init", "-q", "-b", "main")
        (work / "README").write_text("signed\n")
        main = signed_commit(work, pgp, "signed with pgp")
        tags = {"v1.0.0": signed_tag(work, pgp, "v1.0.0")}
        git(work, "tag", "v0.9.0")
        git(work, "tag", "-a", "-m", "unsigned", "v0.8.0")
        tags["v0.8.0"] = git(work, "rev-parse", "refs/tags/v0.8.0")
        git(work, "checkout", "-q", "-b", "ssh")
        (work / "SSH").write_text("ssh\n")
        by_ssh = signed_commit(work, ssh, "signed with ssh")
        tags["v2.0.0"] = signed_tag(work, ssh, "v2.0.0")
        git(work, "checkout", "-q", "-b", "unsigned", "main")
        (work / "UNSIGNED").write_text("nobody\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "unsigned")
        unsigned = git(work, "rev-parse", "HEAD")
        tags["v3.0.0"] = signed_tag(work, pgp, "v3.0.0")
        bare = tmp_path / "git" / "signed.git"
        bare.parent.mkdir()
        git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
        yield Signed(pgp, other, ssh, main, by_ssh, unsigned, tags, bare)
    finally:
        for key in (pgp, other):
            key.close()


@pytest.fixture
async def server(tmp_path: Path, signed: Signed) -> AsyncIterator[GitHTTPServer]:
    served = GitHTTPServer(tmp_path / "git", username="git", password="pat")
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


async def _repo(
    sources: Sources, server: GitHTTPServer, name: str, ref: dict[str, str], **verify: str
) -> None:
    spec = source_spec(
        server.url("signed.git"),
        secret="git-auth",
        ref=ref,
        verify={"secretRef": {"name": "keys"}, **verify},
    )
    await sources.apply("GitRepository", name, spec)


async def _secrets(sources: Sources, keys: dict[str, str]) -> None:
    await sources.secret("git-auth", {"username": "git", "password": "pat"})
    await sources.secret("keys", dict(keys))


async def _replace_keys(sources: Sources, keys: dict[str, str]) -> None:
    core = client.CoreV1Api(sources.kube)
    data = {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()}
    await core.replace_namespaced_secret(
        "keys",
        sources.namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="keys"), data=data),
    )


async def _request_reconcile(sources: Sources, name: str) -> None:
    await rest.request(
        sources.kube,
        "PATCH",
        RESOURCES["GitRepository"].path(sources.namespace, name),
        body={"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: timestamp()}}},
        content_type=rest.MERGE_PATCH,
    )


async def _rejected(sources: Sources, name: str, reason: str) -> dict[str, Any]:
    """The object once SourceVerified=False; Ready is False with the same reason and message,
    and no artifact was made."""
    obj = await sources.wait("GitRepository", name, "SourceVerified", "False")
    verified, ready = cond(obj, "SourceVerified"), cond(obj, "Ready")
    assert verified["reason"] == reason, verified
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        reason,
        verified["message"],
    )
    assert "artifact" not in obj["status"]
    stored = sources.storage.local_path(st.artifact_dir("GitRepository", sources.namespace, name))
    assert not stored.exists() or not any(stored.iterdir())
    return obj


async def _message(sources: Sources, name: str, message: str) -> None:
    async def probe() -> bool | None:
        obj = await sources.get("GitRepository", name)
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c["type"] == "SourceVerified" and c["message"] == message:
                return True
        return None

    await eventually(probe, within=60, what=f"SourceVerified message of {name}")


def _verified(obj: dict[str, Any], *lines: str) -> None:
    verified = cond(obj, "SourceVerified")
    assert (verified["status"], verified["reason"]) == ("True", "Succeeded")
    assert verified["message"] == "verified signature of" + "".join(f"\n\t- {x}" for x in lines)


async def test_commits_signed_with_a_trusted_pgp_or_ssh_key_are_verified(
    sources: Sources, server: GitHTTPServer, signed: Signed
) -> None:
    # The SSH key under a name without the .sshpub suffix: told apart by its content.
    await _secrets(sources, {"author.asc": signed.pgp.public, "signer": signed.ssh.public})
    await _repo(sources, server, "pgp", {"branch": "main"})
    await _repo(sources, server, "ssh", {"branch": "ssh"}, mode="head")
    obj = await sources.ready("GitRepository", "pgp")
    _verified(obj, f"commit '{signed.main}' with key '{signed.pgp.key_id}'")
    assert obj["status"]["artifact"]["revision"] == f"main@sha1:{signed.main}"
    assert obj["status"]["sourceVerificationMode"] == "HEAD"
    obj = await sources.ready("GitRepository", "ssh")
    _verified(obj, f"commit '{signed.by_ssh}' with key '{signed.ssh.fingerprint}'")
    assert obj["status"]["sourceVerificationMode"] == "HEAD"  # the legacy `head`


async def test_a_wrong_key_or_an_unsigned_commit_gets_no_artifact(
    sources: Sources, server: GitHTTPServer, signed: Signed, tmp_path: Path
) -> None:
    await _secrets(sources, {"other.asc": signed.other.public})
    await _repo(sources, server, "wrong", {"branch": "main"})
    await _repo(sources, server, "unsigned", {"branch": "unsigned"})
    await _repo(sources, server, "ssh-signed", {"branch": "ssh"})
    obj = await _rejected(sources, "wrong", "InvalidCommitSignature")
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of commit '{signed.main}' failed: unable to verify Git "
        "commit: unable to verify payload with any of the given key rings: no matching key"
    )
    assert "Stalled" not in {c["type"] for c in obj["status"]["conditions"]}
    events = await client.CoreV1Api(sources.kube).list_namespaced_event(
        sources.namespace, field_selector="involvedObject.name=wrong"
    )
    assert {(e.type, e.reason) for e in events.items} == {("Warning", "InvalidCommitSignature")}
    obj = await _rejected(sources, "unsigned", "InvalidCommitSignature")
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of commit '{signed.unsigned}' failed: "
        "unsupported signature type: empty"
    )
    obj = await _rejected(sources, "ssh-signed", "InvalidCommitSignature")
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of commit '{signed.by_ssh}' failed: SSH signature detected "
        "but no SSH public keys found in secret (keys with .sshpub suffix)"
    )
    # An SSH key that did not sign it.
    stranger = SSHKey(tmp_path / "keys" / "stranger" / "id_ed25519")
    await _replace_keys(sources, {"stranger.sshpub": stranger.public})
    await _request_reconcile(sources, "ssh-signed")
    await _message(
        sources,
        "ssh-signed",
        f"signature verification of commit '{signed.by_ssh}' failed: unable to verify Git "
        "commit SSH signature: unable to verify payload with any of the given authorized "
        "keys: no matching key",
    )
    # No OpenPGP key among the .asc values.
    await _replace_keys(sources, {"broken.asc": "not a key\n"})
    await _request_reconcile(sources, "wrong")
    await _message(
        sources,
        "wrong",
        f"signature verification of commit '{signed.main}' failed: unable to verify Git "
        "commit: unable to read armored key ring: no OpenPGP public key in the secret",
    )
    # No Secret at all.
    await sources.apply(
        "GitRepository",
        "nokeys",
        source_spec(
            server.url("signed.git"),
            secret="git-auth",
            ref={"branch": "main"},
            verify={"mode": "HEAD", "secretRef": {"name": "missing"}},
        ),
    )
    obj = await _rejected(sources, "nokeys", "VerificationError")
    assert cond(obj, "SourceVerified")["message"] == (
        'public keys secret error: secrets "missing" not found'
    )


async def test_tag_modes_verify_the_tag_object_and_with_head_the_commit_too(
    sources: Sources, server: GitHTTPServer, signed: Signed
) -> None:
    await _secrets(sources, {"author.asc": signed.pgp.public, "signer.sshpub": signed.ssh.public})
    tags = signed.tags
    cases = {
        "tag": ({"tag": "v1.0.0"}, "Tag"),
        "semver": ({"semver": "~2.0"}, "Tag"),
        "tag-head": ({"name": "refs/tags/v1.0.0"}, "TagAndHEAD"),
        "signed-tag-only": ({"tag": "v3.0.0"}, "Tag"),
        "head-of-a-tag": ({"tag": "v3.0.0"}, "TagAndHEAD"),
        "lightweight": ({"tag": "v0.9.0"}, "Tag"),
        "unsigned-tag": ({"tag": "v0.8.0"}, "TagAndHEAD"),
        "branch": ({"branch": "main"}, "Tag"),
    }
    for name, (ref, mode) in cases.items():
        await _repo(sources, server, name, ref, mode=mode)
    pgp, ssh = signed.pgp.key_id, signed.ssh.fingerprint
    obj = await sources.ready("GitRepository", "tag")
    _verified(obj, f"tag 'v1.0.0@{tags['v1.0.0']}' with key '{pgp}'")
    assert obj["status"]["sourceVerificationMode"] == "Tag"
    assert obj["status"]["artifact"]["revision"] == f"v1.0.0@sha1:{signed.main}"
    obj = await sources.ready("GitRepository", "semver")
    _verified(obj, f"tag 'v2.0.0@{tags['v2.0.0']}' with key '{ssh}'")
    obj = await sources.ready("GitRepository", "tag-head")
    _verified(
        obj,
        f"tag 'v1.0.0@{tags['v1.0.0']}' with key '{pgp}'",
        f"commit '{signed.main}' with key '{pgp}'",
    )
    assert obj["status"]["sourceVerificationMode"] == "TagAndHEAD"
    # A signed tag of an unsigned commit: enough for Tag, not for TagAndHEAD.
    obj = await sources.ready("GitRepository", "signed-tag-only")
    _verified(obj, f"tag 'v3.0.0@{tags['v3.0.0']}' with key '{pgp}'")
    obj = await _rejected(sources, "head-of-a-tag", "InvalidCommitSignature")
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of commit '{signed.unsigned}' failed: "
        "unsupported signature type: empty"
    )
    obj = await _rejected(sources, "lightweight", "InvalidGitObject")
    assert cond(obj, "SourceVerified")["message"] == (
        "cannot verify signature of tag 'v0.9.0' since it is not signed"
    )
    obj = await _rejected(sources, "unsigned-tag", "InvalidGitObject")
    assert cond(obj, "SourceVerified")["message"] == (
        f"cannot verify signature of tag 'v0.8.0@{tags['v0.8.0']}' since it is not signed"
    )
    # Nothing to verify a tag of: retrying cannot help until the spec changes.
    obj = await _rejected(sources, "branch", "InvalidVerificationMode")
    message = "cannot verify tag object's signature if a tag reference is not specified"
    assert cond(obj, "SourceVerified")["message"] == message
    assert (cond(obj, "Stalled")["status"], cond(obj, "Stalled")["reason"]) == (
        "True",
        "InvalidVerificationMode",
    )


async def test_a_new_secret_or_mode_is_verified_again_and_the_last_artifact_kept(
    sources: Sources, server: GitHTTPServer, signed: Signed
) -> None:
    await _secrets(sources, {"author.asc": signed.pgp.public})
    await _repo(sources, server, "app", {"tag": "v3.0.0"}, mode="Tag")
    obj = await sources.ready("GitRepository", "app")
    _verified(obj, f"tag 'v3.0.0@{signed.tags['v3.0.0']}' with key '{signed.pgp.key_id}'")
    artifact = obj["status"]["artifact"]
    # The keys no longer include the signer: the next reconcile fails and, as in Flux, the
    # artifact verified before stays.
    await _replace_keys(sources, {"other.asc": signed.other.public})
    await _request_reconcile(sources, "app")
    obj = await sources.wait("GitRepository", "app", "SourceVerified", "False")
    assert cond(obj, "SourceVerified")["reason"] == "InvalidTagSignature"
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of tag 'v3.0.0@{signed.tags['v3.0.0']}' failed: unable to "
        "verify Git tag: unable to verify payload with any of the given key rings: no "
        "matching key"
    )
    assert cond(obj, "Ready")["reason"] == "InvalidTagSignature"
    assert obj["status"]["artifact"] == artifact
    assert obj["status"]["sourceVerificationMode"] == "Tag"
    # The signer's key back, and TagAndHEAD: the unsigned commit fails.
    await _replace_keys(sources, {"author.asc": signed.pgp.public})
    await _repo(sources, server, "app", {"tag": "v3.0.0"}, mode="TagAndHEAD")
    obj = await sources.wait("GitRepository", "app", "SourceVerified", "False")
    assert cond(obj, "SourceVerified")["reason"] == "InvalidCommitSignature"
    # Back to Tag: verified again.
    await _repo(sources, server, "app", {"tag": "v3.0.0"}, mode="Tag")
    obj = await sources.ready("GitRepository", "app")
    _verified(obj, f"tag 'v3.0.0@{signed.tags['v3.0.0']}' with key '{signed.pgp.key_id}'")
    assert obj["status"]["artifact"]["revision"] == artifact["revision"]
    # No spec.verify: no SourceVerified, no mode.
    await sources.apply(
        "GitRepository",
        "app",
        source_spec(server.url("signed.git"), secret="git-auth", ref={"tag": "v3.0.0"}),
    )
    obj = await sources.ready("GitRepository", "app")
    assert "SourceVerified" not in {c["type"] for c in obj["status"]["conditions"]}
    assert "sourceVerificationMode" not in obj["status"]


async def test_an_unsigned_commit_pushed_after_a_verified_one_is_not_stored(
    sources: Sources, server: GitHTTPServer, signed: Signed, tmp_path: Path
) -> None:
    await _secrets(sources, {"author.asc": signed.pgp.public})
    await _repo(sources, server, "main", {"branch": "main"})
    obj = await sources.ready("GitRepository", "main")
    artifact = obj["status"]["artifact"]
    assert artifact["revision"] == f"main@sha1:{signed.main}"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "main", str(signed.bare), str(clone))
    (clone / "EVIL").write_text("unsigned\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "unsigned")
    pushed = git(clone, "rev-parse", "HEAD")
    git(clone, "push", "-q", "origin", "main")
    await _request_reconcile(sources, "main")
    obj = await sources.wait("GitRepository", "main", "SourceVerified", "False")
    assert cond(obj, "SourceVerified")["message"] == (
        f"signature verification of commit '{pushed}' failed: unsupported signature type: empty"
    )
    assert obj["status"]["artifact"] == artifact
    stored = sources.storage.local_path(
        st.artifact_path("GitRepository", sources.namespace, "main", f"{pushed}.tar.gz")
    )
    assert not stored.exists()
    assert sources.storage.exists(artifact["path"])


async def test_the_hosts_keyring_and_git_config_are_never_consulted(
    sources: Sources,
    server: GitHTTPServer,
    signed: Signed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The controller's own environment trusts both signers; the Secret trusts neither.
    home = tmp_path / "host-home"
    home.mkdir()
    (home / ".gnupg").symlink_to(signed.pgp.home)
    allowed = home / "allowed_signers"
    allowed.write_text(f"* {signed.ssh.public}")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(f'[gpg "ssh"]\n\tallowedSignersFile = {allowed}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GNUPGHOME", str(signed.pgp.home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    stranger = SSHKey(tmp_path / "keys" / "stranger" / "id_ed25519")
    await _secrets(sources, {"other.asc": signed.other.public, "x.sshpub": stranger.public})
    await _repo(sources, server, "pgp", {"branch": "main"})
    await _repo(sources, server, "ssh", {"branch": "ssh"})
    obj = await _rejected(sources, "pgp", "InvalidCommitSignature")
    assert "no matching key" in cond(obj, "SourceVerified")["message"]
    obj = await _rejected(sources, "ssh", "InvalidCommitSignature")
    assert "no matching key" in cond(obj, "SourceVerified")["message"]


async def test_verification_turned_on_withdraws_an_artifact_stored_unverified(
    sources: Sources, server: GitHTTPServer, signed: Signed
) -> None:
    await _secrets(sources, {"other.asc": signed.other.public})
    spec = source_spec(server.url("signed.git"), secret="git-auth", ref={"branch": "unsigned"})
    await sources.apply("GitRepository", "late", spec)
    obj = await sources.ready("GitRepository", "late")
    assert obj["status"]["artifact"]["revision"] == f"unsigned@sha1:{signed.unsigned}"
    await _repo(sources, server, "late", {"branch": "unsigned"})
    # Fail closed: the artifact stored before verification was asked for is withdrawn, not
    # left for HelmCharts to build on.
    await _rejected(sources, "late", "InvalidCommitSignature")
