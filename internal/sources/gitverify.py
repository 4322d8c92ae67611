"""Signatures of git commits and tags, checked by git itself against the public keys of a
GitRepository's spec.verify.secretRef: OpenPGP keys imported into a throw-away GNUPGHOME (never
a keyring of the host), SSH keys written to an allowed-signers file. Which check runs is read
from the signature in the object, and the messages are source-controller's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from api.sources import GitRepositoryRef, GitVerificationMode
from internal.sources import git

PGP_SUFFIX = ".asc"
SSH_SUFFIX = ".sshpub"

_SSH_KEY = re.compile(r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+[A-Za-z0-9+/=]+")
_SIGNATURE_STARTS = {
    "openpgp": ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----"),
    "ssh": ("-----BEGIN SSH SIGNATURE-----",),
    "x509": ("-----BEGIN SIGNED MESSAGE-----",),
}


class VerificationError(Exception):
    """A signature that is missing, of a kind there are no keys for, or not made by any of the
    keys; the message says which, as source-controller words it."""


@dataclass(frozen=True)
class TrustedKeys:
    pgp: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()

    @classmethod
    def from_secret(cls, data: Mapping[str, bytes]) -> TrustedKeys:
        """Keys named `*.sshpub` are SSH keys and `*.asc` OpenPGP keys, as in Flux; any other
        value is an SSH key when it starts with an SSH key type, else an OpenPGP key."""
        pgp: list[str] = []
        ssh: list[str] = []
        for name, raw in sorted(data.items()):
            value = raw.decode("utf-8", "replace")
            if name.endswith(SSH_SUFFIX):
                ssh.append(value)
            elif name.endswith(PGP_SUFFIX) or not is_ssh_key(value):
                pgp.append(value)
            else:
                ssh.append(value)
        return cls(tuple(pgp), tuple(ssh))


def is_ssh_key(value: str) -> bool:
    return _SSH_KEY.match(value.lstrip()) is not None


def signature_type(signature: str) -> str:
    """openpgp, ssh, x509, empty or unknown, as Flux tells them apart."""
    text = signature.strip()
    if not text:
        return "empty"
    for kind, starts in _SIGNATURE_STARTS.items():
        if text.startswith(starts):
            return kind
    return "unknown"


def commit_signature(raw: str) -> str:
    """The signature in the `gpgsig` header of a raw commit object, or ''."""
    headers = raw.split("\n\n", 1)[0].split("\n")
    lines: list[str] = []
    for line in headers:
        if lines and line.startswith(" "):
            lines.append(line[1:])
        elif lines:
            break
        elif line.startswith(("gpgsig ", "gpgsig-sha256 ")):
            lines.append(line.split(" ", 1)[1])
    return "\n".join(lines)


def tag_signature(raw: str) -> str:
    """The signature git appends to the message of a raw tag object, or ''."""
    _, _, body = raw.partition("\n\n")
    starts = [s for group in _SIGNATURE_STARTS.values() for s in group]
    at = max(
        (m.start() for s in starts for m in re.finditer(f"(?m)^{re.escape(s)}", body)), default=-1
    )
    return body[at:] if at >= 0 else ""


def allowed_signers(keys: Iterable[str]) -> str:
    """An allowed-signers file trusting every key for git's namespace, whoever signed. Only
    `<type> <base64>` lines are taken (comments and blank lines skipped), so a Secret cannot
    add options such as cert-authority."""
    out: list[str] = []
    for value in keys:
        for line in value.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _SSH_KEY.match(line)
            if match is None:
                raise VerificationError(
                    "unable to parse authorized keys: not an SSH public key line"
                )
            out.append(f'* namespaces="git" {match.group(0)}\n')
    return "".join(out)


def pgp_key_id(status: str) -> str | None:
    """The 64-bit id of the primary key that made a good signature, from gpg's status lines
    (`git verify-* --raw`), or None unless the signature is good."""
    words = [line.split() for line in status.splitlines() if line.startswith("[GNUPG:] ")]
    seen = {w[1] for w in words if len(w) > 1}
    if "GOODSIG" not in seen or seen & {"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG"}:
        return None
    for w in words:
        if w[1] == "VALIDSIG" and len(w) > 2:
            return w[-1][-16:].upper()
    return None


_SSH_GOOD = re.compile(r'^Good "git" signature for .+ with \S+ key (SHA256:[A-Za-z0-9+/=]+)', re.M)


def ssh_fingerprint(output: str) -> str | None:
    """The fingerprint of the allowed key that made a good signature, from ssh-keygen's words
    (`git verify-* --raw`), or None."""
    match = _SSH_GOOD.search(output)
    return match.group(1) if match else None


def referencing_tag(ref: GitRepositoryRef | None, label: str) -> str | None:
    """The tag a checkout went through (a tag, the semver match, or a refs/tags/ name, peeled
    or not), whose tag object Tag modes verify; None for a branch or commit."""
    kind = git.plan(ref).kind
    if kind in ("tag", "semver"):
        return label
    if kind == "name" and label.startswith("refs/tags/"):
        return label.removeprefix("refs/tags/").removesuffix("^{}")
    return None


class Verifier:
    """Runs git's verify-commit and verify-tag in `repo` with keys kept under `scratch`."""

    def __init__(self, repo: Path, scratch: Path, keys: TrustedKeys, timeout: float) -> None:
        self.repo = repo
        self.scratch = scratch
        self.keys = keys
        self.timeout = timeout
        self.gnupghome = scratch / "gnupg"
        self.signers = scratch / "allowed_signers"
        self._imported = False
        scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "GNUPGHOME": str(self.gnupghome),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }

    async def fetch_tag(self, client: git.Git, tag: str, commit: str) -> str | None:
        """Fetch the object of `tag` (checkouts peel it); its id when it is an annotated tag of
        `commit`, None for a lightweight tag. A tag that moved since the checkout fails."""
        ref = f"refs/tags/{tag}"
        await client.run(
            "fetch", "-q", "--no-tags", "--depth=1", client.url, f"+{ref}:{ref}", cwd=self.repo
        )
        peeled = (await client.run("rev-parse", f"{ref}^{{commit}}", cwd=self.repo)).strip()
        if peeled != commit:
            raise VerificationError(f"tag '{tag}' moved to commit '{peeled}' during the checkout")
        if (await client.run("cat-file", "-t", ref, cwd=self.repo)).strip() != "tag":
            return None
        return (await client.run("rev-parse", ref, cwd=self.repo)).strip()

    async def raw(self, kind: str, oid: str) -> str:
        code, out, err = await self._git("cat-file", kind, oid)
        if code != 0:
            raise VerificationError(f"unable to read {kind} '{oid}': {err.strip()}")
        return out

    async def verify(self, kind: str, oid: str, signature: str) -> str:
        """The key that made the good `signature` of the commit or tag `oid`: its key id
        (OpenPGP) or fingerprint (SSH)."""
        what = "Git commit" if kind == "commit" else "Git tag"
        scheme = signature_type(signature)
        if scheme == "openpgp":
            if not self.keys.pgp:
                raise VerificationError(
                    "PGP signature detected but no PGP public keys found in secret "
                    f"(keys with {PGP_SUFFIX} suffix)"
                )
            try:
                await self._import()
            except VerificationError as exc:
                raise VerificationError(f"unable to verify {what}: {exc}") from None
            code, _, status = await self._git(f"verify-{kind}", "--raw", oid)
            key = pgp_key_id(status) if code == 0 else None
            if key is None:
                raise VerificationError(
                    f"unable to verify {what}: unable to verify payload with any of the given "
                    "key rings: no matching key"
                )
            return key
        if scheme == "ssh":
            if not self.keys.ssh:
                raise VerificationError(
                    "SSH signature detected but no SSH public keys found in secret "
                    f"(keys with {SSH_SUFFIX} suffix)"
                )
            try:
                self.signers.write_text(allowed_signers(self.keys.ssh))
            except VerificationError as exc:
                raise VerificationError(f"unable to verify {what} SSH signature: {exc}") from None
            code, _, output = await self._git(
                "-c",
                f"gpg.ssh.allowedSignersFile={self.signers}",
                "-c",
                "gpg.ssh.program=ssh-keygen",
                f"verify-{kind}",
                "--raw",
                oid,
            )
            fingerprint = ssh_fingerprint(output) if code == 0 else None
            if fingerprint is None:
                raise VerificationError(
                    f"unable to verify {what} SSH signature: unable to verify payload with any "
                    "of the given authorized keys: no matching key"
                )
            return fingerprint
        raise VerificationError(f"unsupported signature type: {scheme}")

    async def _import(self) -> None:
        """The OpenPGP keys in a keyring of their own; gpg starts no agent for it."""
        if self._imported:
            return
        self.gnupghome.mkdir(mode=0o700, exist_ok=True)
        (self.gnupghome / "gpg.conf").write_text("no-autostart\n")
        imported = False
        for index, key in enumerate(self.keys.pgp):
            path = self.scratch / f"key-{index}.asc"
            path.write_text(key)
            _, status, _ = await self._run(
                "gpg", "--batch", "--no-tty", "--no-autostart", "--status-fd", "1",
                "--import", str(path),
            )  # fmt: skip
            # gpg exits non-zero when it finds no agent to ask, even for a good import.
            imported |= any(line.startswith("[GNUPG:] IMPORT_OK ") for line in status.splitlines())
        if not imported:
            raise VerificationError(
                "unable to read armored key ring: no OpenPGP public key in the secret"
            )
        self._imported = True

    async def _git(self, *args: str) -> tuple[int, str, str]:
        return await self._run("git", "-c", "gpg.program=gpg", *args)

    async def _run(self, *argv: str) -> tuple[int, str, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.repo,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise VerificationError(f"{argv[0]} is not installed") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise VerificationError(f"{argv[0]} timed out after {self.timeout:g}s") from None
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


class Rejected(Exception):
    """Verification did not pass: `reason` is source-controller's condition reason, `stalled`
    says a retry cannot help until the spec changes."""

    def __init__(self, reason: str, message: str, *, stalled: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stalled = stalled


def effective_mode(mode: GitVerificationMode) -> GitVerificationMode:
    """The mode as Flux records it: the legacy `head` is HEAD."""
    return GitVerificationMode.HEAD if mode == GitVerificationMode.HEAD_LEGACY else mode


def checks(mode: GitVerificationMode) -> tuple[bool, bool]:
    """Whether `mode` verifies the tag, and whether it verifies the commit."""
    mode = effective_mode(mode)
    tag = mode in (GitVerificationMode.TAG, GitVerificationMode.TAG_AND_HEAD)
    head = mode in (GitVerificationMode.HEAD, GitVerificationMode.TAG_AND_HEAD)
    return tag, head


async def verify_checkout(
    verifier: Verifier,
    client: git.Git,
    mode: GitVerificationMode,
    tag: str | None,
    commit: str,
) -> str:
    """Verify what `mode` asks of a checkout of `commit` (through `tag`, if any); the message
    naming each object verified and its key, or Rejected."""
    verify_tag, verify_head = checks(mode)
    lines: list[str] = []
    if verify_tag:
        lines.append(await _verify_tag(verifier, client, tag, commit))
    if verify_head:
        try:
            signature = commit_signature(await verifier.raw("commit", commit))
            key = await verifier.verify("commit", commit, signature)
        except (VerificationError, git.GitError) as exc:
            raise Rejected(
                "InvalidCommitSignature",
                f"signature verification of commit '{commit}' failed: {exc}",
            ) from None
        lines.append(f"commit '{commit}' with key '{key}'")
    return "verified signature of" + "".join(f"\n\t- {line}" for line in lines)


async def _verify_tag(verifier: Verifier, client: git.Git, tag: str | None, commit: str) -> str:
    if tag is None:
        raise Rejected(
            "InvalidVerificationMode",
            "cannot verify tag object's signature if a tag reference is not specified",
            stalled=True,
        )
    try:
        oid = await verifier.fetch_tag(client, tag, commit)
        signature = "" if oid is None else tag_signature(await verifier.raw("tag", oid))
    except (VerificationError, git.GitError) as exc:
        raise Rejected(
            "InvalidTagSignature", f"signature verification of tag '{tag}' failed: {exc}"
        ) from None
    shown = tag if oid is None else f"{tag}@{oid}"
    if not signature:
        raise Rejected(
            "InvalidGitObject", f"cannot verify signature of tag '{shown}' since it is not signed"
        )
    try:
        key = await verifier.verify("tag", oid or tag, signature)
    except VerificationError as exc:
        raise Rejected(
            "InvalidTagSignature", f"signature verification of tag '{shown}' failed: {exc}"
        ) from None
    return f"tag '{shown}' with key '{key}'"
