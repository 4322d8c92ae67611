"""From the typed HelmRelease to what the pure decisions take: the desired and observed state,
the loop's context, drift rules and health checks. Pure."""

from __future__ import annotations

from api.duration import format_duration, parse_duration
from api.helmrelease import DEFAULT_RETRY_INTERVAL, DriftDetectionMode, HelmRelease
from api.naming import release_name, storage_namespace, target_namespace
from internal.drift.diff import IgnoreRule
from internal.helm import models as hm
from internal.manager.options import Target, timeout
from internal.release import health
from internal.release.actions import Action
from internal.release.plan import Context, Policy, Remediation, RollbackTarget, Strategy
from internal.release.state import Desired, Observed


def target(hr: HelmRelease) -> Target:
    return Target(release_name(hr), target_namespace(hr), storage_namespace(hr))


def action_timeout(hr: HelmRelease, action: Action) -> str:
    """The timeout an action runs with, as Go prints it: the action's own, else spec.timeout,
    else Flux's default (Flux's `timeoutForAction`)."""
    spec = hr.spec
    own = {
        Action.INSTALL: spec.install,
        Action.UPGRADE: spec.upgrade,
        Action.TEST: spec.test,
        Action.ROLLBACK: spec.rollback,
        Action.UNINSTALL_REMEDIATION: spec.uninstall,
    }.get(action)
    return format_duration(timeout(own.timeout if own else None, hr))


def drift_mode(hr: HelmRelease) -> DriftDetectionMode:
    dd = hr.spec.drift_detection
    return dd.effective_mode() if dd else DriftDetectionMode.DISABLED


def desired(hr: HelmRelease, info: hm.ChartInfo, digests: hm.DigestResult) -> Desired:
    test = hr.spec.test
    status = hr.status
    return Desired(
        chart_name=str(info.metadata.get("name", "")),
        chart_version=str(info.metadata.get("version", "")),
        config_digest=digests.values,
        generation=hr.metadata.generation or 0,
        post_renderers_digest=digests.post_renderers,
        common_metadata_digest=digests.common_metadata,
        test_enabled=bool(test and test.enable),
        ignore_test_failures=hr.ignore_test_failures(),
        has_active_remediation=bool(status and status.last_attempted_release_action),
        drift_detection=drift_mode(hr) is not DriftDetectionMode.DISABLED,
    )


def observed(hr: HelmRelease) -> Observed:
    status = hr.status
    if status is None:
        return Observed()
    return Observed(
        latest=status.latest(),
        observed_generation=status.observed_generation,
        post_renderers_digest=status.observed_post_renderers_digest or "",
        common_metadata_digest=status.observed_common_metadata_digest or "",
    )


def context(hr: HelmRelease, force: bool, rollback_target: RollbackTarget) -> Context:
    inst, upg = hr.spec.install, hr.spec.upgrade
    ir, ur = (inst.remediation if inst else None), (upg.remediation if upg else None)
    install = Policy(
        retries=ir.retries if ir and ir.retries is not None else 0,
        remediate_last_failure=bool(ir and ir.remediate_last_failure),
        strategy=inst.strategy.name if inst and inst.strategy else Strategy.REMEDIATE_ON_FAILURE,
        remediation=Remediation.UNINSTALL,
    )
    upgrade = Policy(
        retries=ur.retries if ur and ur.retries is not None else 0,
        remediate_last_failure=ur.effective_remediate_last_failure() if ur else False,
        strategy=upg.strategy.name if upg and upg.strategy else Strategy.REMEDIATE_ON_FAILURE,
        remediation=ur.effective_strategy() if ur else Remediation.ROLLBACK,
    )
    status = hr.status
    return Context(
        install=install,
        upgrade=upgrade,
        install_failures=(status.install_failures or 0) if status else 0,
        upgrade_failures=(status.upgrade_failures or 0) if status else 0,
        last_attempted=status.last_attempted_release_action if status else None,
        force_requested=force,
        drift_correct=drift_mode(hr) is DriftDetectionMode.ENABLED,
        rollback_target=rollback_target,
    )


def retry_interval(hr: HelmRelease) -> float:
    """The active action's RetryOnFailure interval, in seconds."""
    last = hr.status.last_attempted_release_action if hr.status else None
    spec = hr.spec.install if last == "install" else hr.spec.upgrade
    strategy = spec.strategy if spec else None
    interval = strategy.effective_retry_interval() if strategy else DEFAULT_RETRY_INTERVAL
    return parse_duration(interval).total_seconds()


def ignore_rules(hr: HelmRelease) -> list[IgnoreRule]:
    dd = hr.spec.drift_detection
    rules = (dd.ignore if dd else None) or []
    return [IgnoreRule(paths=list(r.paths), target=r.target) for r in rules]


def health_checks(hr: HelmRelease, action: Action | None = None) -> list[health.Check]:
    """The healthCheckExprs that apply: only when the action waits, as in Flux."""
    spec = hr.spec.install if action is Action.INSTALL else hr.spec.upgrade
    if action is not None and spec is not None and spec.disable_wait:
        return []
    return [
        health.Check(c.api_version, c.kind, c.current, c.in_progress, c.failed)
        for c in hr.spec.health_check_exprs or []
    ]
