"""Fixtures of the engine tests: the shim library, an engine, the cluster target, helpers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from hack.testkit.paths import REPO_ROOT
from hack.testkit.plane import ControlPlane
from internal.helm import Engine, library
from internal.helm.models import ClusterTarget
from tests.engine.releases import releases_fixture as releases_fixture  # the fixture


@pytest.fixture(scope="session")
def shim() -> library.Library:
    """The shim library, built first if these sources have no build yet (a no-op otherwise)."""
    if not os.environ.get(library.SHIM_PATH_ENV):
        subprocess.run(["bash", str(REPO_ROOT / "hack" / "lib" / "build-shim.sh")], check=True)
    return library.load()


@pytest.fixture(scope="session")
def engine(shim: library.Library) -> Iterator[Engine]:
    eng = Engine(shim)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def target(control_plane: ControlPlane) -> ClusterTarget:
    """The local control plane as the engine reaches it: kubeconfig content, admin identity."""
    return ClusterTarget(kubeconfig=control_plane.kubeconfig.read_text())


@pytest.fixture
def core(kube: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube)


@pytest.fixture
def apps(kube: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube)


@pytest.fixture
def chart_root(tmp_path: Path) -> Path:
    root = tmp_path / "charts"
    root.mkdir()
    return root
