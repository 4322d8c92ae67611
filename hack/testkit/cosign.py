"""cosign (built by hack/lib/build-peers.sh at the pin in hack/tools/peers/versions) for signing
OCI artifacts in the test registry on 127.0.0.1 with a key pair of the test's own, offline:
nothing goes to a transparency log and no TUF root is fetched."""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from hack.testkit.paths import REPO_ROOT

BUILD_PEERS = REPO_ROOT / "hack" / "lib" / "build-peers.sh"

# Both, so that plain HTTP works whatever host name the registry has, not only loopback.
REGISTRY_FLAGS = ("--allow-insecure-registry", "--allow-http-registry")
# A trusted root that trusts nothing: given one, verify does not fetch Sigstore's over TUF.
EMPTY_TRUSTED_ROOT = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}
# Go never proxies loopback, so the registry is reached and anything else fails here at once.
DEAD_PROXY = "http://127.0.0.1:9"


@functools.cache
def cosign_binary() -> Path:
    """The pinned cosign, built first when the cache has none."""
    out = subprocess.run(
        ["bash", str(BUILD_PEERS)], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1]) / "cosign"


def _env(home: Path) -> dict[str, str]:
    """cosign's environment, its DOCKER_CONFIG and TUF_ROOT under `home`."""
    # The user's COSIGN_*, SIGSTORE_* and TUF_* settings would point cosign at real services.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COSIGN_", "SIGSTORE_", "TUF_"))
        and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY")
    }
    env.update(
        {
            "COSIGN_PASSWORD": "",
            "DOCKER_CONFIG": str(home / "docker"),
            "TUF_ROOT": str(home / "sigstore"),
            "HTTPS_PROXY": DEAD_PROXY,
            "HTTP_PROXY": DEAD_PROXY,
            "NO_PROXY": "",
        }
    )
    return env


def _cosign(args: list[str], env: Mapping[str, str], cwd: Path | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        [str(cosign_binary()), *args],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _registry_host(ref: str) -> str:
    return ref.split("/", 1)[0]


def write_docker_config(home: Path, host: str, username: str, password: str) -> Path:
    """home/docker, the DOCKER_CONFIG of `_env(home)`, whose config.json holds only `host`'s
    basic-auth credentials (none when `username` is empty)."""
    directory = home / "docker"
    directory.mkdir(parents=True, exist_ok=True)
    auths: dict[str, dict[str, str]] = {}
    if username:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        auths[host] = {"auth": token}
    config = directory / "config.json"
    config.write_text(json.dumps({"auths": auths}))
    config.chmod(0o600)
    return directory


def generate_key_pair(directory: Path) -> tuple[Path, Path]:
    """A new key pair with an empty password: (directory/cosign.key, directory/cosign.pub)."""
    directory.mkdir(parents=True, exist_ok=True)
    rc, out = _cosign(["generate-key-pair"], _env(directory), cwd=directory)
    if rc != 0:
        raise RuntimeError(f"cosign generate-key-pair failed ({rc}): {out}")
    return directory / "cosign.key", directory / "cosign.pub"


def sign(ref_with_digest: str, key: Path, *, username: str, password: str, work_dir: Path) -> str:
    """Signs `host/repository@sha256:...` with `key`, storing the signature in that registry
    over plain HTTP; returns cosign's output. The credentials live in a DOCKER_CONFIG of its own
    under `work_dir`."""
    if "@sha256:" not in ref_with_digest:
        raise ValueError(f"sign wants a reference by digest, not {ref_with_digest!r}")
    home = work_dir / "cosign"
    write_docker_config(home, _registry_host(ref_with_digest), username, password)
    args = [
        "sign",
        "--key",
        str(key),
        "--tlog-upload=false",
        *REGISTRY_FLAGS,
        "-y",
        ref_with_digest,
    ]
    rc, out = _cosign(args, _env(home))
    if rc != 0:
        raise RuntimeError(f"cosign sign {ref_with_digest} failed ({rc}): {out}")
    return out


def verify(
    ref: str,
    pub: Path,
    *,
    username: str = "",
    password: str = "",
    work_dir: Path | None = None,
) -> tuple[bool, str]:
    """Whether `ref`'s signature in its registry verifies with the public key `pub`, with
    cosign's output. The credentials and an empty trusted root go under `work_dir`, or a
    temporary directory without one."""
    with tempfile.TemporaryDirectory(prefix="cosign-verify-") as tmp:
        home = (work_dir if work_dir is not None else Path(tmp)) / "cosign"
        write_docker_config(home, _registry_host(ref), username, password)
        trusted_root = home / "trusted_root.json"
        trusted_root.write_text(json.dumps(EMPTY_TRUSTED_ROOT))
        args = [
            "verify",
            "--key",
            str(pub),
            "--insecure-ignore-tlog=true",
            f"--trusted-root={trusted_root}",
            *REGISTRY_FLAGS,
            ref,
        ]
        rc, out = _cosign(args, _env(home))
    return rc == 0, out
