"""From a HelmRelease spec to engine requests, with Flux's defaults and fallbacks. Pure.

Timeouts fall back to spec.timeout (5m0s). disableWait means Helm waits for hooks only;
otherwise the spec's wait strategy (poller maps to Helm's watcher). Install takes ownership of
existing objects unless told not to, and applies with server-side apply and forced conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.duration import parse_duration
from api.helmrelease import (
    CommonMetadata,
    HelmRelease,
    Install,
    PostRenderer,
    Upgrade,
    WaitStrategyName,
)
from internal.helm import models as m


@dataclass(frozen=True)
class Target:
    release_name: str
    namespace: str
    storage_namespace: str


def timeout(own: str | None, hr: HelmRelease) -> timedelta:
    """An action's timeout: its own, else the HelmRelease's."""
    return parse_duration(own or hr.spec.effective_timeout())


def _wait(disable_wait: bool | None, hr: HelmRelease) -> m.WaitStrategy:
    if disable_wait:
        return "hookOnly"
    return "legacy" if hr.spec.effective_wait_strategy() == WaitStrategyName.LEGACY else "watcher"


def post_renderer(pr: PostRenderer) -> m.PostRenderer:
    k = pr.kustomize
    if k is None:
        return m.PostRenderer()
    return m.PostRenderer(
        kustomize=m.Kustomize(
            patches=[
                m.Patch(
                    patch=p.patch,
                    target=m.Selector(**p.target.model_dump(exclude_none=True))
                    if p.target
                    else None,
                )
                for p in k.patches or []
            ],
            images=[m.Image(**i.model_dump(exclude_none=True)) for i in k.images or []],
        )
    )


def common_metadata(cm: CommonMetadata | None) -> m.CommonMetadata | None:
    if cm is None:
        return None
    return m.CommonMetadata(labels=cm.labels or {}, annotations=cm.annotations or {})


def _rendering(hr: HelmRelease) -> dict[str, Any]:
    return {
        "post_renderers": [
            post_renderer(pr) for pr in hr.spec.post_renderers or [] if pr.kustomize is not None
        ],
        "common_metadata": common_metadata(hr.spec.common_metadata),
        "origin": m.Origin(name=hr.metadata.name, namespace=hr.metadata.namespace or "default"),
        "post_render_strategy": str(hr.spec.effective_post_render_strategy()),
    }


def _release_action(hr: HelmRelease, target: Target, spec: Install | Upgrade | None) -> Any:
    """What install and upgrade share: the target, timeouts, waits, hooks and validation."""
    return {
        "release_name": target.release_name,
        "namespace": target.namespace,
        "timeout": timeout(spec.timeout if spec else None, hr),
        "wait_strategy": _wait(spec.disable_wait if spec else None, hr),
        "wait_for_jobs": not (spec and spec.disable_wait_for_jobs),
        "disable_hooks": bool(spec and spec.disable_hooks),
        "disable_open_api_validation": bool(spec and spec.disable_open_api_validation),
        "disable_schema_validation": bool(spec and spec.disable_schema_validation),
    }


def install(
    hr: HelmRelease, target: Target, chart: Path, values: dict[str, Any]
) -> m.InstallRequest:
    spec = hr.spec.install
    ssa = True if spec is None or spec.server_side_apply is None else spec.server_side_apply
    crds = (spec or Install()).effective_crds()
    return m.InstallRequest(
        chart=str(chart),
        values=values,
        **_release_action(hr, target, spec),
        replace=bool(spec and spec.replace),
        create_namespace=bool(spec and spec.create_namespace),
        crds=crds.value,
        server_side_apply=ssa,
        force_conflicts=ssa,
        take_ownership=not (spec and spec.disable_take_ownership),
        **_rendering(hr),
    )


def _server_side(mode: str, apply_method: str | None) -> tuple[m.ServerSideApplyMode, bool]:
    """The apply mode to send, and whether conflicts are forced (always, when applying server
    side). `auto` follows the apply method of the release the action starts from, as Helm
    would; resolved here so conflicts are never forced on a client-side apply."""
    ssa: m.ServerSideApplyMode = {"enabled": "true", "disabled": "false"}.get(mode, "auto")  # type: ignore[assignment]
    if ssa == "auto" and apply_method is not None:
        ssa = "true" if apply_method == "ssa" else "false"
    return ssa, ssa != "false"


def upgrade(
    hr: HelmRelease,
    target: Target,
    chart: Path,
    values: dict[str, Any],
    apply_method: str | None = None,
) -> m.UpgradeRequest:
    """`apply_method` is the newest stored release's ("ssa" or "csa")."""
    spec = hr.spec.upgrade
    mode = spec.server_side_apply.value if spec and spec.server_side_apply else "auto"
    ssa, forced = _server_side(mode, apply_method)
    preserve = bool(spec and spec.preserve_values)
    return m.UpgradeRequest(
        chart=str(chart),
        values=values,
        **_release_action(hr, target, spec),
        force=bool(spec and spec.force) and ssa != "true",
        reset_values=not preserve,
        reuse_values=preserve,
        cleanup_on_fail=bool(spec and spec.cleanup_on_fail),
        max_history=hr.spec.effective_max_history(),
        crds=(spec or Upgrade()).effective_crds().value,
        server_side_apply=ssa,
        force_conflicts=forced,
        take_ownership=not (spec and spec.disable_take_ownership),
        **_rendering(hr),
    )


def rollback(
    hr: HelmRelease, target: Target, version: int, apply_method: str | None = None
) -> m.RollbackRequest:
    """`apply_method` is that of the release rolled back to."""
    spec = hr.spec.rollback
    mode = spec.server_side_apply.value if spec and spec.server_side_apply else "auto"
    ssa, forced = _server_side(mode, apply_method)
    return m.RollbackRequest(
        release_name=target.release_name,
        namespace=target.namespace,
        version=version,
        timeout=timeout(spec.timeout if spec else None, hr),
        wait_strategy=_wait(spec.disable_wait if spec else None, hr),
        wait_for_jobs=not (spec and spec.disable_wait_for_jobs),
        disable_hooks=bool(spec and spec.disable_hooks),
        force=bool(spec and spec.force) and ssa != "true",
        cleanup_on_fail=bool(spec and spec.cleanup_on_fail),
        max_history=hr.spec.effective_max_history(),
        server_side_apply=ssa,
        force_conflicts=forced,
    )


def uninstall(hr: HelmRelease, target: Target) -> m.UninstallRequest:
    spec = hr.spec.uninstall
    return m.UninstallRequest(
        release_name=target.release_name,
        namespace=target.namespace,
        timeout=timeout(spec.timeout if spec else None, hr),
        wait_strategy=_wait(spec.disable_wait if spec else None, hr),
        disable_hooks=bool(spec and spec.disable_hooks),
        keep_history=bool(spec and spec.keep_history),
        deletion_propagation=str(spec.deletion_propagation.value) if spec else "background",
        ignore_not_found=True,
    )


def test(hr: HelmRelease, target: Target) -> m.TestRequest:
    spec = hr.spec.test
    return m.TestRequest(
        release_name=target.release_name,
        namespace=target.namespace,
        timeout=timeout(spec.timeout if spec else None, hr),
        filters=[m.TestFilter(name=f.name, exclude=bool(f.exclude)) for f in (spec.filters or [])]
        if spec
        else [],
    )
