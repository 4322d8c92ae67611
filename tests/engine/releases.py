"""Releases in a test's namespace, as the engine tests drive them: each call with the test's
engine, cluster target and namespace filled in. `from tests.engine.releases import
releases_fixture` provides the `releases` fixture."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partialmethod
from pathlib import Path
from typing import Any

import pytest

from hack.testkit import charts
from internal.helm import Engine
from internal.helm.models import (
    ClusterTarget,
    GetRequest,
    HistoryRequest,
    InstallRequest,
    MarkFailedRequest,
    ObserveSpec,
    RollbackRequest,
    StorageSpec,
    TestRequest,
    UninstallRequest,
    UpgradeRequest,
)


@dataclass(frozen=True)
class Releases:
    engine: Engine
    target: ClusterTarget
    namespace: str
    chart_root: Path

    def chart(self, **layout: Any) -> Path:
        """A chart written under the test's chart root (`charts.make_chart`)."""
        return charts.make_chart(self.chart_root, **layout)

    def configmap_chart(self, **layout: Any) -> Path:
        """A chart of one ConfigMap."""
        return self.chart(templates={"configmap.yaml": charts.CONFIGMAP}, **layout)

    async def _run(
        self,
        op: str,
        request: Any,
        name: str,
        chart: Path | None = None,
        *,
        namespace: str | None = None,
        storage: StorageSpec | None = None,
        observe: ObserveSpec | None = None,
        **fields: Any,
    ) -> Any:
        """The engine's `op` on the release `name`, in the test's namespace unless `namespace`
        is set; `chart` for the ops that take one."""
        if chart is not None:
            fields["chart"] = chart
        body = request(release_name=name, namespace=namespace or self.namespace, **fields)
        return await getattr(self.engine, op)(
            body, cluster=self.target, storage=storage, observe=observe
        )

    install = partialmethod(_run, "install", InstallRequest)
    upgrade = partialmethod(_run, "upgrade", UpgradeRequest)
    rollback = partialmethod(_run, "rollback", RollbackRequest)
    uninstall = partialmethod(_run, "uninstall", UninstallRequest)
    test = partialmethod(_run, "test", TestRequest)
    get = partialmethod(_run, "get", GetRequest)
    history = partialmethod(_run, "history", HistoryRequest)
    mark_failed = partialmethod(_run, "mark_failed", MarkFailedRequest)


@pytest.fixture(name="releases")
def releases_fixture(
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
) -> Releases:
    return Releases(engine, target, namespace, chart_root)
