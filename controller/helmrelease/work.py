"""One reconcile's view of its HelmRelease: the typed object, the status being built, the events
to emit; and the settings and the retry signal every step shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.helmrelease import HelmRelease, HelmReleaseStatus
from api.meta import ConditionStatus
from controller.helmrelease.refs import RefSettings
from internal.helm import models as hm
from internal.manager.clusters import KubeConfigOptions
from internal.release import conditions as cond


@dataclass
class Settings:
    cluster: hm.ClusterTarget
    artifact_dir: Path
    default_service_account: str | None = None
    requeue_dependency: float = 30.0
    no_cross_namespace_refs: bool = False
    kubeconfig: KubeConfigOptions = field(default_factory=KubeConfigOptions)
    """What kubeConfig Secrets may ask (--insecure-kubeconfig-exec, --insecure-kubeconfig-tls)."""
    refs: RefSettings = field(default_factory=RefSettings)
    """References to secret stores in values (--values-refs and its companions)."""


class Retry(Exception):
    """End this reconcile with the status written; the queue backs off, or waits
    `requeue_after` seconds when given (RetryOnFailure's retryInterval)."""

    def __init__(self, message: str, requeue_after: float | None = None) -> None:
        super().__init__(message)
        self.requeue_after = requeue_after


@dataclass(frozen=True)
class Event:
    type: str
    """Normal or Warning."""
    reason: str
    message: str


@dataclass
class Work:
    """`hr.status` is the status being built: Flux's object helpers on the model read it."""

    raw: dict[str, Any]
    """The object as last read or written; a status patch is computed against it."""
    hr: HelmRelease
    events: list[Event] = field(default_factory=list)

    @classmethod
    def of(cls, raw: dict[str, Any], hr: HelmRelease) -> Work:
        hr.status = hr.status.model_copy(deep=True) if hr.status else HelmReleaseStatus()
        return cls(raw, hr)

    @property
    def status(self) -> HelmReleaseStatus:
        assert self.hr.status is not None  # set by `of`
        return self.hr.status

    @property
    def namespace(self) -> str:
        return self.hr.metadata.namespace or "default"

    @property
    def name(self) -> str:
        return self.hr.metadata.name or ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def generation(self) -> int:
        return self.hr.metadata.generation or 0

    def condition(
        self, type_: str, status: ConditionStatus | str, reason: str, message: str
    ) -> None:
        self.status.conditions = cond.set_condition(
            self.status.conditions, type_, status, reason, message, generation=self.generation
        )

    def drop(self, *types: str) -> None:
        self.status.conditions = [c for c in self.status.conditions or [] if c.type not in types]

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def not_ready(self, reason: str, message: str) -> None:
        self.condition(cond.READY, ConditionStatus.FALSE, reason, message)

    def stalled(self, reason: str, message: str) -> None:
        self.not_ready(reason, message)
        self.condition(cond.STALLED, ConditionStatus.TRUE, reason, message)

    def summarize(self) -> None:
        test = self.hr.spec.test
        self.status.conditions = cond.summarize(
            self.status.conditions,
            test_enabled=bool(test and test.enable),
            ignore_test_failures=self.hr.ignore_test_failures(),
            generation=self.generation,
        )

    def finish(self, *, observed: bool) -> None:
        """The loop ended: Ready summarized, Reconciling gone; `observed` when the release
        reached the state this generation asks for (or stalled short of it)."""
        self.summarize()
        self.drop(cond.RECONCILING)
        if observed:
            self.status.observed_generation = self.generation
