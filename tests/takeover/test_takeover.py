"""Swapping Helmward in for Flux, and Flux back in for Helmward, costs no Helm action.

Flux's own helm-controller and source-controller (built from the Go module proxy at the pins in
hack/tools/flux/versions) install releases of several kinds; Flux is stopped and Helmward takes
them over; then the reverse in a second namespace. Each way: no new Helm revision,
`status.history` kept as it was, Ready stays True, and the new controller records no action,
no drift and no warning for any release."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.flux import flux_bin_dir, pinned_versions, running_flux
from hack.testkit.kube import create_helm_repository, drop_finalizers
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused
from tests.e2e.conftest import Harness, e2e_controller

pytestmark = pytest.mark.e2e

# Four kinds of release: plain, values from a ConfigMap, a post-renderer, tests enabled. All
# detect drift, so a drift report by the new controller would show.
DRIFT = {"driftDetection": {"mode": "enabled"}}
RELEASES: dict[str, dict[str, Any]] = {
    "plain": {"values": {"message": "plain"}},
    "fromcm": {"valuesFrom": [{"kind": "ConfigMap", "name": "takeover-values"}]},
    "patched": {
        "postRenderers": [
            {
                "kustomize": {
                    "patches": [
                        {
                            "target": {"kind": "ConfigMap"},
                            "patch": "- op: add\n  path: /metadata/labels\n"
                            "  value: {patched: 'yes'}\n",
                        }
                    ]
                }
            }
        ]
    },
    "tested": {"test": {"enable": True}},
}
# What a controller that took a release over must not do to it.
ACTION_REASONS = {
    "InstallSucceeded",
    "InstallFailed",
    "UpgradeSucceeded",
    "UpgradeFailed",
    "TestSucceeded",
    "TestFailed",
    "RollbackSucceeded",
    "UninstallSucceeded",
    "DriftDetected",
    "DriftCorrected",
}


@pytest.fixture(scope="module")
def flux_bin() -> Path:
    return flux_bin_dir()


@pytest.fixture
async def charts_url(control_plane: ControlPlane, tmp_path: Path) -> AsyncIterator[str]:
    chart = write_message_chart(tmp_path / "src", "demo", "1.0.0", test_hook=True)
    async with chart_repository(control_plane.helm, [chart], tmp_path / "repo") as server:
        yield server.url


async def _prepare(h: Harness) -> None:
    """The HelmRepository, the values ConfigMap and the four HelmReleases."""
    await create_helm_repository(h.kube, h.namespace, h.repo_url)
    await client.CoreV1Api(h.kube).create_namespaced_config_map(
        h.namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="takeover-values"),
            data={"values.yaml": "message: from-configmap\n"},
        ),
    )
    for name, extra in RELEASES.items():
        await h.apply_release(name, {**h.chart_spec(), **DRIFT, **extra})


async def _all_ready(h: Harness, within: float = 180) -> None:
    for name in RELEASES:
        reason = "TestSucceeded" if name == "tested" else "InstallSucceeded"
        await h.wait(name, "Ready", "True", reason=reason, within=within)


async def _revisions(h: Harness) -> dict[str, list[tuple[int, str]]]:
    """Each release's Helm storage records, (version, status), read from its Secrets."""
    secrets = await client.CoreV1Api(h.kube).list_namespaced_secret(
        h.namespace, label_selector="owner=helm"
    )
    out: dict[str, list[tuple[int, str]]] = {name: [] for name in RELEASES}
    for s in secrets.items:
        labels = s.metadata.labels or {}
        out.setdefault(labels["name"], []).append((int(labels["version"]), labels["status"]))
    return {name: sorted(records) for name, records in out.items()}


async def _histories(h: Harness) -> dict[str, list[dict[str, Any]]]:
    return {name: (await h.get(name))["status"]["history"] for name in RELEASES}


async def _reconciled_by_the_new_controller(h: Harness, token: str, within: float = 120) -> None:
    """Ask for a reconcile of every release, as `flux reconcile` does, and wait until the
    running controller has handled it."""
    for name in RELEASES:
        await h.request_reconcile(name, token)

    async def handled() -> bool:
        for name in RELEASES:
            status = (await h.get(name)).get("status") or {}
            if status.get("lastHandledReconcileAt") != token:
                return False
        return True

    await eventually(handled, within=within, what=f"every release handled {token}")
    # The new controller's source side builds its own artifacts first (the old one's are gone
    # with it): until then a release may wait for its chart, and not be Ready.
    for name in RELEASES:
        await h.wait(name, "Ready", "True", within=within)


async def _events(h: Harness, component: str) -> list[tuple[str, str, str, str]]:
    """(release, type, reason, message) of the HelmRelease events `component` reported."""
    listing = await client.CoreV1Api(h.kube).list_namespaced_event(h.namespace)
    return sorted(
        (e.involved_object.name, e.type, e.reason, e.message or "")
        for e in listing.items
        if e.involved_object.kind == "HelmRelease"
        and (e.reporting_component or (e.source.component if e.source else "")) == component
    )


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


async def _check_taken_over(
    h: Harness,
    before: tuple[dict[str, Any], dict[str, Any]],
    component: str,
    label: str,
) -> None:
    revisions, histories = before
    after = await _revisions(h), await _histories(h)
    print(f"{label}: revisions before {revisions}")
    print(f"{label}: revisions after  {after[0]}")
    assert after[0] == revisions, "a Helm action ran on takeover"
    assert after[1] == histories, "status.history changed on takeover"
    for name in RELEASES:
        obj = await h.get(name)
        ready, latest = _ready(obj), obj["status"]["history"][0]
        print(
            f"{label}: {name} Ready={ready['status']} {ready['reason']}; history[0] "
            f"v{latest['version']} {latest['digest'][:19]}… config {latest['configDigest'][:19]}…"
        )
        assert ready["status"] == "True", name
    acted = [e for e in await _events(h, component) if e[2] in ACTION_REASONS or e[1] != "Normal"]
    assert acted == [], f"{component} acted on releases it took over"


async def _upgrade(h: Harness, name: str) -> None:
    await h.apply_release(name, {**h.chart_spec(), **DRIFT, "values": {"message": "upgraded"}})
    await h.wait(name, "Ready", "True", reason="UpgradeSucceeded", within=120)


async def _message_owners(h: Harness, release: str) -> list[str]:
    """The field managers that own the release ConfigMap's data.message."""
    cm = await client.CoreV1Api(h.kube).read_namespaced_config_map(f"{release}-config", h.namespace)
    return sorted(
        f.manager
        for f in cm.metadata.managed_fields or []
        if "f:message" in ((f.fields_v1 or {}).get("f:data") or {})
    )


@contextlib.asynccontextmanager
async def _harness(
    control_plane: ControlPlane, kube: client.ApiClient, namespace: str, url: str, tmp: Path
) -> AsyncIterator[Harness]:
    h = Harness(kube, namespace, url, control_plane.helm, control_plane.kubeconfig, tmp, flags=())
    try:
        yield h
    finally:
        await drop_finalizers(kube, namespace)
        await _drop_release_finalizers(h)


async def _drop_release_finalizers(h: Harness) -> None:
    listing = await rest.request(h.kube, "GET", HELM_RELEASES.path(h.namespace))
    for item in listing.get("items", []):
        with contextlib.suppress(Exception):
            await rest.request(
                h.kube,
                "PATCH",
                HELM_RELEASES.path(h.namespace, item["metadata"]["name"]),
                body={"metadata": {"finalizers": None}},
                content_type=rest.MERGE_PATCH,
            )


async def _with_flux(h: Harness, flux_bin: Path, step: Callable[[], Awaitable[None]]) -> None:
    async with running_flux(h.kubeconfig, h.namespace, h.work_dir, bin_dir=flux_bin) as flux:
        try:
            await step()
        except BaseException:
            print(flux.tail())
            raise


async def _with_helmward(h: Harness, step: Callable[[], Awaitable[None]]) -> None:
    log = h.work_dir / "controller.log"
    try:
        async with e2e_controller(h.kubeconfig, h.namespace, h.work_dir):
            await step()
    except BaseException:
        if log.exists():
            print(log.read_text()[-6000:])
        raise


async def test_helmward_takes_over_what_flux_installed(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    flux_bin: Path,
    charts_url: str,
    tmp_path: Path,
) -> None:
    print(f"Flux: {pinned_versions()}")
    async with _harness(control_plane, kube, namespace, charts_url, tmp_path) as h:
        await _prepare(h)
        await _with_flux(h, flux_bin, lambda: _all_ready(h))
        before = await _revisions(h), await _histories(h)
        assert all(len(r) == 1 for r in before[0].values()), before[0]

        await _with_helmward(h, lambda: _reconciled_by_the_new_controller(h, "takeover-1"))
        await _check_taken_over(h, before, "helmward", "Flux → Helmward")

        # Helm's objects have one field manager whichever controller applied them, so the
        # first upgrade after a takeover is one revision and leaves no second owner.
        await _with_helmward(h, lambda: _upgrade(h, "plain"))
        assert (await _revisions(h))["plain"] == [(1, "superseded"), (2, "deployed")]
        assert await _message_owners(h, "plain") == ["helm-controller"]


async def test_flux_takes_over_what_helmward_installed(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    flux_bin: Path,
    charts_url: str,
    tmp_path: Path,
) -> None:
    async with _harness(control_plane, kube, namespace, charts_url, tmp_path) as h:
        await _prepare(h)
        await _with_helmward(h, lambda: _all_ready(h))
        before = await _revisions(h), await _histories(h)
        assert all(len(r) == 1 for r in before[0].values()), before[0]

        await _with_flux(h, flux_bin, lambda: _reconciled_by_the_new_controller(h, "takeover-2"))
        await _check_taken_over(h, before, "helm-controller", "Helmward → Flux")
