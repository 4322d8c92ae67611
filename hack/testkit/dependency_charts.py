"""Charts with dependencies, the servers they depend on, and the stock helm CLI's
`helm dependency build` of them, to hold Helmward's builds against.

`DependencyWorld` is: an HTTPS chart repository behind basic auth holding `dep` 1.0.0 and 1.1.0;
a distribution registry with htpasswd auth holding `ocidep` 0.1.0 at oci://<host>/charts; and a
source tree with one chart per case (see CASES). Locks are made by the CLI itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hack.testkit.chart_server import CA, ChartServer
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_index, helm_package
from hack.testkit.oci_registry import OCIRegistry

REPO_USER, REPO_PASSWORD = "deps", "repo-s3cret"
REGISTRY_USER, REGISTRY_PASSWORD = "deps", "registry-s3cret"
SOURCE_DATE_EPOCH = "0"
"""Helmward stamps file:// dependency archives with this time; the CLI gets the same."""

BIG_BYTES = 300_000
"""The size of the incompressible file in the `big` dependency."""

CASES = ("http", "locked", "alias", "oci", "v1", "local")
"""The charts both sides build; `outofsync`, `escape` and `big` (a dependency of more than
BIG_BYTES) are failures only Helmward is asked."""


def _dep(name: str, version: str, repository: str, **extra: str) -> str:
    entry = {"name": name, "version": version, "repository": repository, **extra}
    return yaml.safe_dump([entry], sort_keys=False)


def _deps_block(*entries: str) -> str:
    body = "".join(entries)
    return "dependencies:\n" + "".join(f"  {line}\n" for line in body.splitlines())


@dataclass
class DependencyWorld:
    tmp: Path
    helm: Path
    ca: CA = field(default_factory=CA)
    server: ChartServer | None = None
    registry: OCIRegistry | None = None
    tree: Path = field(init=False)
    """The source tree: charts/<case>/..."""
    locks: dict[str, bytes] = field(default_factory=dict)
    """Chart.lock of `locked` pinning 1.0.0 ("1.0.0") and one pinning 1.1.0 ("1.1.0")."""

    def __post_init__(self) -> None:
        self.tree = self.tmp / "tree"

    @property
    def repo_url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def oci_url(self) -> str:
        assert self.registry is not None
        return f"oci://{self.registry.host}/charts"

    @property
    def ca_file(self) -> Path:
        path = self.tmp / "repo-ca.pem"
        if not path.exists():
            path.write_bytes(self.ca.pem)
        return path

    async def start(self) -> None:
        """Serve dep 1.0.0, make the 1.0.0 lock, then publish dep 1.1.0 (so the lock pins an
        older version than the newest) and make the 1.1.0 lock; push ocidep; write the tree."""
        repo = self.tmp / "repo"
        repo.mkdir(parents=True)
        src = self.tmp / "dep-src"
        helm_package(self.helm, write_chart(src / "1.0.0", "dep", "1.0.0"), repo)
        big = write_chart(src / "big", "big", "1.0.0")
        (big / "blob.bin").write_bytes(os.urandom(BIG_BYTES))  # incompressible
        helm_package(self.helm, big, repo)
        self.server = ChartServer(
            repo, username=REPO_USER, password=REPO_PASSWORD, tls=self.ca.server_context()
        )
        await self.server.start()
        helm_index(self.helm, repo, self.server.url)
        self.registry = OCIRegistry(self.tmp / "registry", REGISTRY_USER, REGISTRY_PASSWORD)
        self.registry.start()
        pkg = helm_package(self.helm, write_chart(src / "oci", "ocidep", "0.1.0"), self.tmp)
        self.registry.push_chart(self.helm, pkg, "charts", self.tmp / "push-home")
        self._write_tree()
        self.locks["1.0.0"] = await self._cli_lock("locked")
        helm_package(self.helm, write_chart(src / "1.1.0", "dep", "1.1.0"), repo)
        helm_index(self.helm, repo, self.server.url)
        self.locks["1.1.0"] = await self._cli_lock("locked")
        self.set_lock("locked", self.locks["1.0.0"])
        self.set_lock("outofsync", self.locks["1.0.0"])

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.registry is not None:
            self.registry.stop()

    def chart_dir(self, case: str) -> Path:
        return self.tree / "charts" / case

    def set_lock(self, case: str, lock: bytes) -> None:
        (self.chart_dir(case) / "Chart.lock").write_bytes(lock)

    def _write_tree(self) -> None:
        charts = self.tree / "charts"
        http = _dep("dep", ">=1.0.0", self.repo_url)
        write_chart(charts, "http", "1.0.0", deps=_deps_block(http))
        write_chart(charts, "locked", "1.0.0", deps=_deps_block(http))
        write_chart(
            charts,
            "outofsync",
            "1.0.0",
            deps=_deps_block(_dep("dep", "~1.1.0", self.repo_url)),
        )
        write_chart(
            charts,
            "alias",
            "1.0.0",
            deps=_deps_block(
                _dep("dep", "1.0.0", self.repo_url, alias="first"),
                _dep("dep", "1.1.0", self.repo_url, alias="second"),
            ),
        )
        write_chart(charts, "oci", "1.0.0", deps=_deps_block(_dep("ocidep", "0.1.0", self.oci_url)))
        v1 = write_chart(charts, "v1", "1.0.0")
        (v1 / "Chart.yaml").write_text("apiVersion: v1\nname: v1\nversion: 1.0.0\n")
        (v1 / "requirements.yaml").write_text(_deps_block(_dep("dep", "1.0.x", self.repo_url)))
        write_chart(charts, "big", "1.0.0", deps=_deps_block(_dep("big", "1.0.0", self.repo_url)))
        write_chart(charts, "lib", "0.1.0")
        write_chart(
            charts, "local", "1.0.0", deps=_deps_block(_dep("lib", ">=0.1.0", "file://../lib"))
        )
        write_chart(
            charts, "escape", "1.0.0", deps=_deps_block(_dep("x", "1.0.0", "file://../../../etc"))
        )

    async def _cli_lock(self, case: str) -> bytes:
        """The lock `helm dependency update` writes for the case now."""
        work = self.tmp / f"lock-{len(self.locks)}"
        shutil.copytree(self.chart_dir(case), work / case)
        (work / case / "Chart.lock").unlink(missing_ok=True)
        await self.cli("dependency", "update", str(work / case), home=work / "home")
        return (work / case / "Chart.lock").read_bytes()

    # --- the stock CLI -------------------------------------------------------------------------

    def _env(self, home: Path) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("HELM_")},
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
            "DOCKER_CONFIG": str(home / "docker"),
            "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
        }

    async def _login(self, home: Path) -> None:
        marker = home / ".logged-in"
        if await asyncio.to_thread(marker.exists):
            return
        await asyncio.to_thread(lambda: home.mkdir(parents=True, exist_ok=True))
        env = self._env(home)
        assert self.registry is not None
        await _run(
            [str(self.helm), "repo", "add", "deps", self.repo_url, "--username", REPO_USER,
             "--password", REPO_PASSWORD, "--ca-file", str(self.ca_file)],
            env,
        )  # fmt: skip
        await _run(
            [str(self.helm), "registry", "login", self.registry.host, "--plain-http", "-u",
             REGISTRY_USER, "--password-stdin"],
            env, stdin=REGISTRY_PASSWORD,
        )  # fmt: skip
        marker.touch()

    async def cli(self, *args: str, home: Path) -> str:
        """Run the helm CLI with a throw-away configuration under `home` that has the chart
        repository added (with its credentials and CA) and the registry logged in to."""
        await self._login(home)
        extra = ["--plain-http"] if args[0] == "dependency" else []
        return await _run([str(self.helm), *args, *extra], self._env(home))

    async def cli_build(self, case: str) -> dict[str, bytes]:
        """`helm dependency build` of a copy of the case: its charts/ files and lock, as Helmward
        keeps them (paths relative to the chart)."""
        work = self.tmp / "cli" / case
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(self.tree, work)
        chart = work / "charts" / case
        await self.cli("dependency", "build", str(chart), home=self.tmp / "cli-home")
        return built_files(chart)


async def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run a command off the event loop (the chart server the CLI talks to runs on it)."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, input=stdin, capture_output=True, text=True, env=env, check=False
        )

    out = await asyncio.to_thread(run)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(args[:3])} failed: {out.stderr}")
    return out.stdout


def built_files(chart: Path) -> dict[str, bytes]:
    """charts/* (top level) and the lock file of a chart directory."""
    out: dict[str, bytes] = {}
    charts = chart / "charts"
    if charts.is_dir():
        for p in sorted(charts.iterdir()):
            if p.is_file():
                out[f"charts/{p.name}"] = p.read_bytes()
    for lock in ("Chart.lock", "requirements.lock"):
        if (chart / lock).is_file():
            out[lock] = (chart / lock).read_bytes()
    return out


def package_files(data: bytes) -> dict[str, bytes]:
    """The charts/* (top level) and lock files inside a chart package."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            _, _, rel = m.name.partition("/")
            if (rel.startswith("charts/") and rel.count("/") == 1) or rel in (
                "Chart.lock",
                "requirements.lock",
            ):
                f = tar.extractfile(m)
                assert f is not None
                out[rel] = f.read()
    return out


@dataclass(frozen=True)
class Snapshot:
    """What is compared: each file under charts/ with its sha256, and the lock's digest and
    locked versions."""

    charts: dict[str, str]
    lock_digest: str | None
    locked: tuple[tuple[str, str], ...]


def snapshot(files: Mapping[str, bytes]) -> Snapshot:
    charts = {
        k.removeprefix("charts/"): hashlib.sha256(v).hexdigest()[:16]
        for k, v in sorted(files.items())
        if k.startswith("charts/")
    }
    lock_raw = files.get("Chart.lock") or files.get("requirements.lock")
    lock = yaml.safe_load(lock_raw) if lock_raw else None
    digest = lock.get("digest") if isinstance(lock, dict) else None
    locked = tuple(
        (str(d.get("name")), str(d.get("version")))
        for d in (lock.get("dependencies") or [] if isinstance(lock, dict) else [])
    )
    return Snapshot(charts, digest, locked)


def side_by_side(case: str, helm: Snapshot, helmward: Snapshot) -> str:
    """Both snapshots of a case as a small table."""
    rows = [f"== {case}: {'SAME' if helm == helmward else 'DIFFERENT'}"]
    rows.append(f"  {'':<22} {'helm dependency build':<40} {'helmward':<40}")
    for name in sorted(set(helm.charts) | set(helmward.charts)):
        rows.append(
            f"  {name:<22} {helm.charts.get(name, '-'):<40} {helmward.charts.get(name, '-'):<40}"
        )
    rows.append(
        f"  {'lock digest':<22} {helm.lock_digest or '-':<40} {helmward.lock_digest or '-'}"
    )
    rows.append(f"  {'locked':<22} {list(helm.locked)!s:<40} {list(helmward.locked)}")
    return "\n".join(rows)
