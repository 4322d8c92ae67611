"""Signatures of git commits and tags, checked by git itself (verify-commit and verify-tag)
against the public keys of a GitRepository's spec.verify.secretRef: OpenPGP keys imported into
a throw-away GNUPGHOME (never a keyring of the host, and no gpg-agent), SSH keys written to an
allowed-signers file. Which check runs is read from the signature in the object; the messages
and reasons are source-controller's."""

from __future__ import annotations

import os
from pathlib import Path

from api.sources import GitVerificationMode
from internal.sources import git
from internal.sources.gitsignatures import (
    PGP_SUFFIX,
    SSH_SUFFIX,
    TrustedKeys,
    VerificationError,
    allowed_signers,
    checks,
    commit_signature,
    pgp_key_id,
    signature_type,
    ssh_fingerprint,
    tag_signature,
)
from internal.sources.subprocess import run_bounded


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
            code, out, err = await run_bounded(
                argv, cwd=self.repo, env=self.env, deadline=self.timeout
            )
        except FileNotFoundError:
            raise VerificationError(f"{argv[0]} is not installed") from None
        except TimeoutError:
            raise VerificationError(f"{argv[0]} timed out after {self.timeout:g}s") from None
        return code, out.decode(errors="replace"), err.decode(errors="replace")


class Rejected(Exception):
    """Verification did not pass: `reason` is source-controller's condition reason, `stalled`
    says a retry cannot help until the spec changes."""

    def __init__(self, reason: str, message: str, *, stalled: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stalled = stalled


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
