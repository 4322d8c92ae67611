"""The reconciler's pipeline in front of the atomic loop, over a fake API server: an object the
models reject, --no-cross-namespace-refs, and the generated HelmChart no longer wanted."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from controller.events import EventRecorder
from controller.helmrelease.reconciler import HelmReleaseReconciler, Settings
from controller.metrics import Recorder
from controller.runtime.informer import Informer
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import HELM_CHARTS, HELM_RELEASES, OCI_REPOSITORIES
from tests.helmrelease.conftest import release_object
from tests.helmrelease.fakeengine import FakeLibrary

NAMESPACE = "apps"
KEY = f"{NAMESPACE}/app"
STATUS_PATH = HELM_RELEASES.path("apps", "app", "status")


def merge(old: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict) or not isinstance(old, dict):
        return copy.deepcopy(patch)
    out = dict(old)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


@dataclass
class FakeApi:
    """The API server as the pipeline uses it: the HelmRelease's merge patches applied to the
    stored object; every request kept."""

    release: dict[str, Any]
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    async def request(self, _api: object, method: str, path: str, **kw: Any) -> dict[str, Any]:
        body = kw.get("body")
        self.calls.append((method, path, copy.deepcopy(body)))
        if method == "PATCH" and path.startswith(HELM_RELEASES.path("apps", "app")):
            self.release = merge(self.release, body)
            meta = self.release["metadata"]
            meta["resourceVersion"] = str(int(meta.get("resourceVersion", "1")) + 1)
            return copy.deepcopy(self.release)
        return copy.deepcopy(body) if isinstance(body, dict) else {}

    def writes(self, prefix: str) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "GET" and c[1].startswith(prefix)]


@dataclass
class FakeEvents:
    emitted: list[tuple[str, str, str]] = field(default_factory=list)

    async def emit(self, obj: Any, type_: str, reason: str, message: str, *_: Any) -> None:
        self.emitted.append((type_, reason, message))


@dataclass
class Pipeline:
    api: FakeApi
    events: FakeEvents
    lib: FakeLibrary
    releases: Informer
    tmp: Path
    engines: list[Engine] = field(default_factory=list)

    def reconciler(self, **settings: Any) -> HelmReleaseReconciler:
        nothing = cast(ApiClient, None)
        self.engines.append(Engine(self.lib))  # type: ignore[arg-type]
        return HelmReleaseReconciler(
            nothing,
            self.engines[-1],
            self.releases,
            Informer(nothing, HELM_CHARTS),
            cast(EventRecorder, self.events),
            Recorder(CollectorRegistry()),
            Settings(hm.ClusterTarget(in_cluster=True), self.tmp / "artifacts", **settings),
            Informer(nothing, OCI_REPOSITORIES),
        )

    def store(self, raw: dict[str, Any]) -> None:
        raw = {**raw, "metadata": {**raw["metadata"], "resourceVersion": "1"}}
        self.api.release = copy.deepcopy(raw)
        self.releases.store[KEY] = copy.deepcopy(raw)

    def conditions(self) -> dict[str, tuple[str, str, str]]:
        conds = (self.api.release.get("status") or {}).get("conditions") or []
        return {c["type"]: (c["status"], c["reason"], c["message"]) for c in conds}


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    api = FakeApi({})
    monkeypatch.setattr(rest, "request", api.request)
    p = Pipeline(
        api, FakeEvents(), FakeLibrary(), Informer(cast(ApiClient, None), HELM_RELEASES), tmp_path
    )
    yield p
    for engine in p.engines:
        engine.close()


def with_finalizer(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "metadata": {**raw["metadata"], "finalizers": ["finalizers.fluxcd.io"]}}


def chart_ref(namespace: str | None = None) -> dict[str, Any]:
    ref = {"kind": "OCIRepository", "name": "app"}
    return {**ref, "namespace": namespace} if namespace else ref


def without_chart(raw: dict[str, Any], **spec: Any) -> dict[str, Any]:
    rest_of = {k: v for k, v in raw["spec"].items() if k != "chart"}
    return {**raw, "spec": {**rest_of, **spec}}


# --- an object the models reject ------------------------------------------------------------


async def test_an_invalid_release_is_stalled_with_its_problems_and_one_warning(
    pipeline: Pipeline,
) -> None:
    raw = release_object(interval="99999999h", values="s3cr3t-token")
    raw["status"] = {
        "lastAttemptedRevision": "1.0.0",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "InstallSucceeded",
                "message": "installed",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
                "observedGeneration": 1,
            },
            {
                "type": "Reconciling",
                "status": "True",
                "reason": "Progressing",
                "message": "",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            },
        ],
    }
    raw["metadata"]["generation"] = 2
    raw["metadata"]["annotations"] = {"reconcile.fluxcd.io/requestedAt": "now"}
    pipeline.store(raw)
    r = pipeline.reconciler()

    result = await r.reconcile(KEY)

    assert result.requeue_after is None
    [(method, path, body)] = pipeline.api.calls
    assert (method, path) == ("PATCH", STATUS_PATH)
    assert set(body["status"]) == {"conditions", "observedGeneration", "lastHandledReconcileAt"}
    status = pipeline.api.release["status"]
    assert status["lastAttemptedRevision"] == "1.0.0", "other status fields are kept"
    assert (status["observedGeneration"], status["lastHandledReconcileAt"]) == (2, "now")
    conds = pipeline.conditions()
    assert set(conds) == {"Ready", "Stalled"}
    assert conds["Ready"][:2] == ("False", "InvalidSpec")
    assert conds["Stalled"][:2] == ("True", "InvalidSpec")
    message = conds["Ready"][2]
    assert message.startswith("Reconciliation failed terminally due to configuration error: ")
    assert "spec.interval: invalid duration '99999999h'" in message
    assert "spec.values: Input should be an object" in message
    assert "s3cr3t" not in message
    assert pipeline.events.emitted == [("Warning", "InvalidSpec", message)]

    # Reconciled again unchanged: no write, no second event.
    await r.reconcile(KEY)
    assert len(pipeline.api.calls) == 1
    assert len(pipeline.events.emitted) == 1


async def reconcile_generation_2(
    pipeline: Pipeline, r: HelmReleaseReconciler, **spec: Any
) -> dict[str, tuple[str, str, str]]:
    """The stored release edited to generation 2 with `spec` set, reconciled again by `r`:
    the conditions it then has."""
    fixed = copy.deepcopy(pipeline.api.release)
    fixed["spec"].update(spec)
    fixed["metadata"]["generation"] = 2
    pipeline.releases.store[KEY] = fixed
    await r.reconcile(KEY)
    return pipeline.conditions()


async def test_an_invalid_release_made_valid_loses_its_stall(pipeline: Pipeline) -> None:
    pipeline.store(with_finalizer(release_object(interval="99999999h")))
    r = pipeline.reconciler()
    await r.reconcile(KEY)
    assert pipeline.conditions()["Stalled"][:2] == ("True", "InvalidSpec")

    conds = await reconcile_generation_2(pipeline, r, interval="5m")
    assert "Stalled" not in conds
    assert conds["Ready"][:2] == ("False", "SourceNotReady")


# --- --no-cross-namespace-refs --------------------------------------------------------------


async def test_a_chart_ref_in_another_namespace_is_denied_with_the_flag(
    pipeline: Pipeline,
) -> None:
    pipeline.store(with_finalizer(without_chart(release_object(), chartRef=chart_ref("shared"))))

    result = await pipeline.reconciler(no_cross_namespace_refs=True).reconcile(KEY)

    message = "cross-namespace references are not allowed: cannot access OCIRepository shared/app"
    assert result.requeue_after is None, "terminal: no retry until the spec changes"
    conds = pipeline.conditions()
    assert conds["Ready"] == ("False", "AccessDenied", message)
    assert conds["Stalled"] == ("True", "AccessDenied", message)
    assert "Reconciling" not in conds
    assert pipeline.api.release["status"]["observedGeneration"] == 1
    assert pipeline.events.emitted == [("Warning", "AccessDenied", message)]
    assert pipeline.lib.calls == [], "no Helm action"


async def test_a_chart_template_from_another_namespace_is_denied_and_not_applied(
    pipeline: Pipeline,
) -> None:
    raw = with_finalizer(release_object())
    raw["spec"]["chart"]["spec"]["sourceRef"]["namespace"] = "shared"
    pipeline.store(raw)

    await pipeline.reconciler(no_cross_namespace_refs=True).reconcile(KEY)

    message = "cross-namespace references are not allowed: cannot access HelmChart shared/apps-app"
    assert pipeline.conditions()["Stalled"] == ("True", "AccessDenied", message)
    assert pipeline.api.writes("/apis/source.toolkit.fluxcd.io") == [], "no HelmChart applied"


async def test_without_the_flag_a_chart_ref_in_another_namespace_is_used(
    pipeline: Pipeline,
) -> None:
    pipeline.store(with_finalizer(without_chart(release_object(), chartRef=chart_ref("shared"))))

    await pipeline.reconciler().reconcile(KEY)

    ready = pipeline.conditions()["Ready"]
    assert ready == ("False", "SourceNotReady", "OCIRepository 'shared/app' not found")


async def test_depends_on_another_namespace_is_not_checked_by_the_flag_as_in_flux(
    pipeline: Pipeline,
) -> None:
    raw = with_finalizer(release_object(dependsOn=[{"name": "db", "namespace": "other"}]))
    pipeline.store(raw)

    await pipeline.reconciler(no_cross_namespace_refs=True).reconcile(KEY)

    assert pipeline.conditions()["Ready"][:2] == ("False", "DependencyNotReady")


async def test_a_denied_reference_made_local_clears_the_stall(pipeline: Pipeline) -> None:
    pipeline.store(with_finalizer(without_chart(release_object(), chartRef=chart_ref("shared"))))
    r = pipeline.reconciler(no_cross_namespace_refs=True)
    await r.reconcile(KEY)
    assert "Stalled" in pipeline.conditions()

    conds = await reconcile_generation_2(pipeline, r, chartRef=chart_ref())
    assert "Stalled" not in conds
    assert conds["Ready"][:2] == ("False", "SourceNotReady")


# --- the generated HelmChart no longer wanted -----------------------------------------------


async def test_a_moved_source_namespace_deletes_the_old_helm_chart(pipeline: Pipeline) -> None:
    raw = with_finalizer(release_object())
    raw["spec"]["chart"]["spec"]["sourceRef"]["namespace"] = "shared"
    raw["status"] = {"helmChart": "apps/apps-app"}
    pipeline.store(raw)

    await pipeline.reconciler().reconcile(KEY)

    charts = pipeline.api.writes("/apis/source.toolkit.fluxcd.io")
    assert [(m, p) for m, p, _ in charts] == [
        ("DELETE", HELM_CHARTS.path("apps", "apps-app")),
        ("PATCH", HELM_CHARTS.path("shared", "apps-app")),
    ]
    assert pipeline.api.release["status"]["helmChart"] == "shared/apps-app"


async def test_moving_to_a_chart_ref_deletes_the_generated_helm_chart(pipeline: Pipeline) -> None:
    raw = with_finalizer(without_chart(release_object(), chartRef=chart_ref()))
    raw["status"] = {"helmChart": "apps/apps-app"}
    pipeline.store(raw)

    await pipeline.reconciler().reconcile(KEY)

    charts = pipeline.api.writes("/apis/source.toolkit.fluxcd.io")
    assert [(m, p) for m, p, _ in charts] == [("DELETE", HELM_CHARTS.path("apps", "apps-app"))]
    assert "helmChart" not in pipeline.api.release["status"]


async def test_an_unchanged_template_deletes_nothing(pipeline: Pipeline) -> None:
    raw = with_finalizer(release_object())
    raw["status"] = {"helmChart": "apps/apps-app"}
    pipeline.store(raw)

    await pipeline.reconciler().reconcile(KEY)

    charts = pipeline.api.writes("/apis/source.toolkit.fluxcd.io")
    assert [m for m, _, _ in charts] == ["PATCH"]


async def test_a_stalled_source_is_not_used_even_with_an_old_artifact(pipeline: Pipeline) -> None:
    """As Flux's isReady: a source that is Stalled (say, verification it cannot do) keeps its
    old artifact in status at most; the release waits and installs nothing."""
    pipeline.store(with_finalizer(without_chart(release_object(), chartRef=chart_ref())))
    reconciler = pipeline.reconciler()
    reconciler.charts.sources["OCIRepository"].store[f"{NAMESPACE}/app"] = {
        "metadata": {"name": "app", "namespace": NAMESPACE, "generation": 1},
        "status": {
            "observedGeneration": 1,
            "artifact": {
                "path": "ocirepository/apps/app/x.tgz",
                "url": "http://127.0.0.1:1/x.tgz",
                "revision": "1.0.0@sha256:" + "a" * 64,
                "digest": "sha256:" + "a" * 64,
                "lastUpdateTime": "2026-12-02T00:00:00Z",
            },
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "VerificationNotSupported",
                    "message": "spec.verify cannot be done",
                    "lastTransitionTime": "2026-12-02T00:00:00Z",
                },
                {
                    "type": "Stalled",
                    "status": "True",
                    "reason": "VerificationNotSupported",
                    "message": "spec.verify cannot be done",
                    "lastTransitionTime": "2026-12-02T00:00:00Z",
                },
            ],
        },
    }

    await reconciler.reconcile(KEY)

    assert pipeline.conditions()["Ready"] == (
        "False",
        "SourceNotReady",
        f"OCIRepository '{NAMESPACE}/app' is not ready: spec.verify cannot be done",
    )
    assert pipeline.lib.calls == []


# --- an object deleted while it is reconciled ---------------------------------------------------


def not_found(kind: str, name: str, group: str = "helm.toolkit.fluxcd.io") -> ApiException:
    """A 404 as the API server answers it: a Status naming the resource."""
    exc = ApiException(status=404, reason="Not Found")
    details = {"name": name, "group": group, "kind": kind}
    exc.body = json.dumps({"kind": "Status", "code": 404, "details": details})
    return exc


async def test_a_release_deleted_under_its_reconcile_ends_it_without_a_retry(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The informer still holds the object, the API server no longer does: its first write
    answers 404 naming it. Nothing to retry, no event for it, and no GET to find out (the
    controller's role grants none on HelmReleases)."""
    pipeline.store(with_finalizer(release_object()))

    async def gone(_api: object, method: str, path: str, **kw: Any) -> dict[str, Any]:
        pipeline.api.calls.append((method, path, kw.get("body")))
        raise not_found("helmreleases", "app")

    monkeypatch.setattr(rest, "request", gone)
    result = await pipeline.reconciler().reconcile(KEY)

    assert result.requeue_after is None
    assert [m for m, _, _ in pipeline.api.calls] == ["PATCH"]
    assert pipeline.events.emitted == []


@pytest.mark.parametrize(
    "missing",
    [
        not_found("helmcharts", "apps-app", "source.toolkit.fluxcd.io"),
        not_found("helmreleases", "other"),
    ],
)
async def test_a_404_of_something_else_is_still_an_error(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, missing: ApiException
) -> None:
    pipeline.store(with_finalizer(release_object()))

    async def others_missing(_api: object, method: str, path: str, **kw: Any) -> dict[str, Any]:
        raise missing

    monkeypatch.setattr(rest, "request", others_missing)
    with pytest.raises(ApiException):
        await pipeline.reconciler().reconcile(KEY)
