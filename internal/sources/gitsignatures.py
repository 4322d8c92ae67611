"""What GitRepository signature verification decides without running anything: which keys a
Secret holds (OpenPGP or SSH), which signature a raw commit or tag object carries, what gpg's
status lines and ssh-keygen's words say about it, and what a verification mode asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def effective_mode(mode: GitVerificationMode) -> GitVerificationMode:
    """The mode as Flux records it: the legacy `head` is HEAD."""
    return GitVerificationMode.HEAD if mode == GitVerificationMode.HEAD_LEGACY else mode


def checks(mode: GitVerificationMode) -> tuple[bool, bool]:
    """Whether `mode` verifies the tag, and whether it verifies the commit."""
    mode = effective_mode(mode)
    tag = mode in (GitVerificationMode.TAG, GitVerificationMode.TAG_AND_HEAD)
    head = mode in (GitVerificationMode.HEAD, GitVerificationMode.TAG_AND_HEAD)
    return tag, head
