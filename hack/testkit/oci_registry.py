"""The distribution OCI registry: built by hack/lib/build-registry.sh, started on 127.0.0.1 with
htpasswd (bcrypt) auth and storage in a given directory (over HTTPS with a certificate of a
test CA when given one), stopped after its test. Charts are pushed with the helm CLI the
control plane ships."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import trustme

from hack.testkit.paths import REPO_ROOT
from hack.testkit.ports import free_port


def registry_binary() -> Path:
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "hack/lib/build-registry.sh")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(out.strip().splitlines()[-1])


class OCIRegistry:
    """A registry on 127.0.0.1 over plain HTTP, with one htpasswd user (anonymous when the user
    name is empty)."""

    def __init__(
        self, root: Path, username: str, password: str, *, tls: trustme.CA | None = None
    ) -> None:
        self.root = root
        self.tls = tls
        """With a CA, the registry serves HTTPS with a certificate of it for 127.0.0.1."""
        self.username = username
        self.password = password
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = root / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def _context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        ctx = ssl.create_default_context()
        self.tls.configure_trust(ctx)
        return ctx

    def _tls_config(self) -> str:
        """The `http.tls` block of the registry's configuration, its files written."""
        if self.tls is None:
            return ""
        issued = self.tls.issue_cert("127.0.0.1", "localhost")
        cert, key = self.root / "tls.crt", self.root / "tls.key"
        cert.write_bytes(b"".join(p.bytes() for p in issued.cert_chain_pems))
        key.write_bytes(issued.private_key_pem.bytes())
        self.tls.cert_pem.write_to_path(str(self.root / "ca.crt"))
        return f"  tls:\n    certificate: {cert}\n    key: {key}\n"

    def _helm_transport(self) -> list[str]:
        if self.tls is None:
            return ["--plain-http"]
        return ["--ca-file", str(self.root / "ca.crt")]

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = self.root / "htpasswd"
        if self.username:
            subprocess.run(
                ["htpasswd", "-Bbc", str(htpasswd), self.username, self.password],
                check=True,
                capture_output=True,
            )
        auth = (
            f"auth:\n  htpasswd:\n    realm: helmward-tests\n    path: {htpasswd}\n"
            if self.username
            else ""
        )
        binary = registry_binary()
        tls = self._tls_config()
        for _ in range(5):
            self.port = free_port()
            config = self.root / "config.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: warn\n  accesslog:\n    disabled: false\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n{tls}{auth}"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            with self._log.open("ab") as log:
                self._proc = subprocess.Popen(
                    [str(binary), "serve", str(config)], stdout=log, stderr=log, env=env
                )
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"the OCI registry did not start: {self._log.read_text()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(
                    f"{self.scheme}://{self.host}/v2/", timeout=1, context=self._context()
                )
                return True
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the registry served so far, from its access
        log."""
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return [
            (m[1], m[2], int(m[3]))
            for m in re.finditer(
                r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})', text
            )
        ]

    def retag(self, repository: str, digest: str, tag: str) -> None:
        """Point `tag` at the manifest `digest` (what an attacker with push rights can do)."""
        base = f"{self.scheme}://{self.host}/v2/{repository}/manifests"
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}"} if self.username else {}
        accept = "application/vnd.oci.image.manifest.v1+json"
        get = urllib.request.Request(f"{base}/{digest}", headers={**headers, "Accept": accept})
        with urllib.request.urlopen(get, context=self._context()) as resp:
            body, media_type = resp.read(), resp.headers.get("Content-Type", accept)
        put = urllib.request.Request(
            f"{base}/{tag}", body, {**headers, "Content-Type": media_type}, method="PUT"
        )
        with urllib.request.urlopen(put, context=self._context()) as resp:
            assert resp.status == 201, resp.status

    def push_chart(self, helm: Path, package: Path, repository: str, home: Path) -> str:
        """`helm push` the package to oci://<host>/<repository>; returns the manifest digest.
        The helm CLI's configuration lives under `home`, not the user's."""
        env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
            "DOCKER_CONFIG": str(home / "docker"),
        }
        registry_config = home / "config" / "registry.json"
        common = ["--registry-config", str(registry_config)]
        with contextlib.suppress(FileExistsError):
            (home / "config").mkdir(parents=True)
        if not self.username:
            return self._push(helm, package, repository, common, env)
        subprocess.run(
            [
                str(helm),
                "registry",
                "login",
                self.host,
                *self._helm_transport(),
                "-u",
                self.username,
                "--password-stdin",
                *common,
            ],
            input=self.password.encode(),
            check=True,
            capture_output=True,
            env=env,
        )
        return self._push(helm, package, repository, common, env)

    def _push(
        self,
        helm: Path,
        package: Path,
        repository: str,
        common: list[str],
        env: dict[str, str],
    ) -> str:
        out = subprocess.run(
            [
                str(helm),
                "push",
                str(package),
                f"oci://{self.host}/{repository}",
                *self._helm_transport(),
                *common,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        text = out.stdout + out.stderr
        for line in text.splitlines():
            if line.startswith("Digest:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no digest in helm push output: {text}")
