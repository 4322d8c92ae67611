"""Signing keys and signed git objects for tests: an OpenPGP key in a GNUPGHOME of its own
(its gpg-agent stopped on close) and an SSH key made by ssh-keygen; commits and tags signed
with either through the git CLI, with the same clean identity as `git_server.git`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        argv, cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _git_env(home: Path, gnupghome: Path | None = None) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    if gnupghome is not None:
        env["GNUPGHOME"] = str(gnupghome)
    return env


class PGPKey:
    """An ed25519 OpenPGP signing key without a passphrase, in a GNUPGHOME of its own under
    the system's temporary directory (gpg-agent's socket path must stay short); `close`
    removes it."""

    def __init__(self, uid: str = "Signer <signer@example.com>") -> None:
        self.home = Path(tempfile.mkdtemp(prefix="gnupg-"))
        self._gpg(
            "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid,
            "ed25519", "sign", "never",
        )  # fmt: skip
        colons = self._gpg("--list-keys", "--with-colons")
        self.fingerprint = next(
            line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:")
        )
        self.key_id = self.fingerprint[-16:]
        """What Flux reports: the primary key's 64-bit id, upper-case hex."""
        self.public = self._gpg("--armor", "--export", self.fingerprint) + "\n"
        """The armored public key, as a Secret holds it."""

    def _gpg(self, *args: str) -> str:
        return _run(
            ["gpg", "--batch", "--no-tty", *args], self.home, _git_env(self.home, self.home)
        )

    def git_signing(self) -> tuple[list[str], Path]:
        """The git options that sign with this key, and the GNUPGHOME they need."""
        return ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={self.fingerprint}"], self.home

    def close(self) -> None:
        """Stop the gpg-agent that signing started for this home."""
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"],
            env=_git_env(self.home, self.home),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.home, ignore_errors=True)


class SSHKey:
    """An ed25519 SSH key pair made by ssh-keygen at `path` (and `path`.pub)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        subprocess.run(
            ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", "signer", "-f", str(path)],
            check=True,
        )
        self.public = path.with_suffix(".pub").read_text()
        """The `ssh-ed25519 AAAA... signer` line."""
        listed = _run(["ssh-keygen", "-l", "-f", str(path)], path.parent, _git_env(path.parent))
        self.fingerprint = listed.split()[1]
        """`SHA256:<base64>`, as ssh-keygen and Flux print it."""

    def git_signing(self) -> tuple[list[str], Path | None]:
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.path}"], None

    def close(self) -> None:
        pass


Key = PGPKey | SSHKey


def signed_commit(work: Path, key: Key, message: str) -> str:
    """Commit everything in `work` signed with `key`; returns the commit."""
    options, gnupghome = key.git_signing()
    env = _git_env(work, gnupghome)
    _run(["git", "add", "-A"], work, env)
    _run(["git", *options, "commit", "-q", "--allow-empty", "-S", "-m", message], work, env)
    return _run(["git", "rev-parse", "HEAD"], work, env)


def signed_tag(work: Path, key: Key, name: str, target: str = "HEAD") -> str:
    """An annotated tag `name` on `target` signed with `key`; returns the tag object."""
    options, gnupghome = key.git_signing()
    env = _git_env(work, gnupghome)
    _run(["git", *options, "tag", "-s", "-m", f"release {name}", name, target], work, env)
    return _run(["git", "rev-parse", f"refs/tags/{name}"], work, env)
