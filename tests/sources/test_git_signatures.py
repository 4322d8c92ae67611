"""The pure parts of GitRepository signature verification: which keys a Secret holds, which
signature an object carries, what gpg and ssh-keygen said, and what a mode asks for."""

from __future__ import annotations

import pytest

from api.sources import GitRepositoryRef, GitVerificationMode
from internal.sources.gitsignatures import (
    TrustedKeys,
    VerificationError,
    allowed_signers,
    checks,
    commit_signature,
    effective_mode,
    pgp_key_id,
    referencing_tag,
    signature_type,
    ssh_fingerprint,
    tag_signature,
)

pytestmark = pytest.mark.sources

ARMORED = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n"
SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9qzBlVSNAcYaqAqFHANRfcnqNv6wqnPJASZ4S4kPcx me"


def test_keys_are_told_apart_by_suffix_then_by_content() -> None:
    keys = TrustedKeys.from_secret(
        {
            "a.asc": ARMORED.encode(),
            "b.sshpub": SSH.encode(),
            "c": SSH.encode(),
            "d": ARMORED.encode(),
            "e.asc": SSH.encode(),  # the suffix wins, as in Flux
            "f": b"  ecdsa-sha2-nistp256 AAAAE2VjZHNh\n",
        }
    )
    assert keys.pgp == (ARMORED, ARMORED, SSH)
    assert keys.ssh == (SSH, SSH, "  ecdsa-sha2-nistp256 AAAAE2VjZHNh\n")


COMMIT = (
    "tree aaff74984cccd156a469afa7d9ab10e4777beb24\n"
    "author t <t@e> 1796216436 +0000\n"
    "committer t <t@e> 1796216436 +0000\n"
    "gpgsig -----BEGIN SSH SIGNATURE-----\n"
    " U1NIU0lH\n"
    " \n"
    " -----END SSH SIGNATURE-----\n"
    "\n"
    "message\n"
    "gpgsig -----BEGIN PGP SIGNATURE----- in the message is no signature\n"
)


def test_signatures_are_read_from_commit_headers_and_tag_bodies() -> None:
    signature = commit_signature(COMMIT)
    assert signature == "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n\n-----END SSH SIGNATURE-----"
    assert signature_type(signature) == "ssh"
    assert commit_signature(COMMIT.replace("gpgsig ", "gpgsig-x ", 1)) == ""
    tag = (
        "object 271585b9bb916ae21eacf5dc3324dd038ab64e58\ntype commit\ntag v1\n"
        "tagger t <t@e> 1796216436 +0000\n\nrelease\n-----BEGIN PGP SIGNATURE-----\n\n"
        "iHUE\n-----END PGP SIGNATURE-----\n"
    )
    assert (
        tag_signature(tag) == "-----BEGIN PGP SIGNATURE-----\n\niHUE\n-----END PGP SIGNATURE-----\n"
    )
    assert signature_type(tag_signature(tag)) == "openpgp"
    assert tag_signature(tag.split("-----BEGIN")[0]) == ""
    assert signature_type("") == "empty"
    assert signature_type("-----BEGIN SIGNED MESSAGE-----\n") == "x509"
    assert signature_type("garbage") == "unknown"


def test_allowed_signers_take_only_key_lines() -> None:
    assert allowed_signers([f"# mine\n\n{SSH}\n"]) == (
        '* namespaces="git" ssh-ed25519 '
        "AAAAC3NzaC1lZDI1NTE5AAAAIB9qzBlVSNAcYaqAqFHANRfcnqNv6wqnPJASZ4S4kPcx\n"
    )
    with pytest.raises(VerificationError, match="unable to parse authorized keys"):
        allowed_signers([f"cert-authority {SSH}"])


FPR = "5DA8EB11172BD5E1D5E66EB16465E3DC452F1C60"
GOOD = (
    "[GNUPG:] NEWSIG\n"
    "[GNUPG:] GOODSIG 1111222233334444 Signer <s@example.com>\n"
    f"[GNUPG:] VALIDSIG 1111222233334444AAAA 2026-12-02 1796216436 0 4 0 22 8 00 {FPR}\n"
    "[GNUPG:] TRUST_UNDEFINED 0 pgp\n"
)


def test_the_primary_key_of_a_good_pgp_signature_is_reported() -> None:
    assert pgp_key_id(GOOD) == "6465E3DC452F1C60"  # not the subkey that signed
    assert pgp_key_id(GOOD.replace("GOODSIG", "EXPKEYSIG")) is None
    assert pgp_key_id(GOOD + "[GNUPG:] BADSIG 1111222233334444 x\n") is None
    assert pgp_key_id("[GNUPG:] ERRSIG 6465E3DC452F1C60 22 8 00 1796216436 9 -\n") is None
    assert pgp_key_id("") is None


def test_only_a_good_ssh_signature_of_an_allowed_signer_is_reported() -> None:
    fingerprint = "SHA256:5l7xas6ChW/N+/+7fqUkSI/oeYpHN5wj/qzGraNJYe4"
    good = f'Good "git" signature for * with ED25519 key {fingerprint}\n'
    assert ssh_fingerprint(good) == fingerprint
    # ssh-keygen's check-novalidate fallback: good, but by no allowed signer
    assert ssh_fingerprint(f'Good "git" signature with ED25519 key {fingerprint}\n') is None
    assert ssh_fingerprint("No principal matched.\n") is None


@pytest.mark.parametrize(
    ("ref", "label", "tag"),
    [
        ({"tag": "v1"}, "v1", "v1"),
        ({"semver": ">=1"}, "v1.2.0", "v1.2.0"),
        ({"name": "refs/tags/v1"}, "refs/tags/v1", "v1"),
        ({"name": "refs/tags/v1^{}"}, "refs/tags/v1^{}", "v1"),
        ({"name": "refs/heads/main"}, "refs/heads/main", None),
        ({"branch": "main"}, "main", None),
        ({"tag": "v1", "commit": "abc"}, "", None),
        (None, "master", None),
    ],
)
def test_the_referencing_tag_of_a_checkout(
    ref: dict[str, str] | None, label: str, tag: str | None
) -> None:
    parsed = None if ref is None else GitRepositoryRef.model_validate(ref)
    assert referencing_tag(parsed, label) == tag


def test_modes() -> None:
    assert effective_mode(GitVerificationMode.HEAD_LEGACY) == GitVerificationMode.HEAD
    assert checks(GitVerificationMode.HEAD_LEGACY) == (False, True)
    assert checks(GitVerificationMode.HEAD) == (False, True)
    assert checks(GitVerificationMode.TAG) == (True, False)
    assert checks(GitVerificationMode.TAG_AND_HEAD) == (True, True)
