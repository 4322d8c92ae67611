"""A HelmRelease of a chart in a GitRepository whose dependency comes from the harness's chart
repository: the controller builds it with Helm's downloader and installs parent and subchart;
a restarted controller process reuses the stored build for another release of the chart."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from hack.testkit.charts import write_chart
from hack.testkit.git_server import GitHTTPServer, git
from internal.kube import rest
from internal.kube.resources import GIT_REPOSITORIES
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


async def test_a_git_chart_with_a_repository_dependency_installs(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    work = tmp_path / "app-work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    deps = f"dependencies:\n- name: demo\n  version: 1.0.0\n  repository: {h.repo_url}\n"
    write_chart(
        work / "charts", "app", "0.1.0", values="replicas: 2\ndemo:\n  message: nested\n", deps=deps
    )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "app")
    (tmp_path / "git").mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / "git" / "app.git"))
    server = GitHTTPServer(tmp_path / "git", username="git", password="pat")
    await server.start()
    try:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-auth", "namespace": h.namespace},
            "stringData": {"username": "git", "password": "pat"},
        }
        await rest.request(h.kube, "POST", f"/api/v1/namespaces/{h.namespace}/secrets", body=secret)
        body = {
            "apiVersion": GIT_REPOSITORIES.api_version,
            "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": h.namespace},
            "spec": {
                "url": server.url("app.git"),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "git-auth"},
            },
        }
        await rest.request(h.kube, "POST", GIT_REPOSITORIES.path(h.namespace), body=body)
        await h.apply_release(
            "withdeps",
            {
                "chart": {
                    "spec": {
                        "chart": "charts/app",
                        "sourceRef": {"kind": "GitRepository", "name": "app"},
                        "interval": "1m",
                    }
                },
                "interval": "5m",
            },
        )
        obj = await h.wait("withdeps", "Ready", "True", within=120)
        assert obj["status"]["history"][0]["chartName"] == "app"
        # The subchart's ConfigMap, with the value the parent gives it.
        sub = await h.config("withdeps")
        assert sub["message"] == "nested"
        assert sub["chartVersion"] == "1.0.0"
        parent = await rest.request(
            h.kube, "GET", f"/api/v1/namespaces/{h.namespace}/configmaps/withdeps"
        )
        assert parent["data"]["replicas"] == "2"
        assert _builds(await h.metrics()) == {"built": 1, "reused": 0}

        # A new process on the same storage: another release of the chart (its own HelmChart)
        # takes the stored charts/ and lock, with no build and no download.
        assert h.controller is not None
        h.controller.send_signal(signal.SIGKILL)
        await h.controller.wait()
        async with h.restart() as second:
            h.controller = second
            await h.apply_release(
                "again",
                {
                    "chart": {
                        "spec": {
                            "chart": "charts/app",
                            "sourceRef": {"kind": "GitRepository", "name": "app"},
                            "interval": "1m",
                        }
                    },
                    "interval": "5m",
                },
            )
            await h.wait("again", "Ready", "True", within=120)
            assert (await h.config("again"))["chartVersion"] == "1.0.0"
            assert _builds(await h.metrics()) == {"built": 0, "reused": 1}
    finally:
        await server.stop()


def _builds(metrics: str) -> dict[str, int]:
    found = re.findall(r'^helmward_dependency_builds_total\{result="(\w+)"\} (\S+)$', metrics, re.M)
    return {result: int(float(value)) for result, value in found}
