"""What `explain` decides from, as the caller read it, and which objects the caller should read.

The facts are typed: the HelmRelease and its sources are the `api` models, the rest small frozen
records of what was read through the API. The helpers at the end are pure as well: given a
release, they name the objects whose state the answer needs (its chart source and that
source's own source, its Helm storage, the pods of a failed action).
Nothing here carries the data of a Secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api import conditions
from api.helmrelease import HelmRelease
from api.meta import Condition, ConditionStatus, DependencyReference
from api.naming import (
    chart_source_namespace,
    helm_chart_name,
    release_name,
    storage_namespace,
    target_namespace,
)
from api.sources import (
    Bucket,
    ExternalArtifact,
    GitRepository,
    HelmChart,
    HelmRepository,
    OCIRepository,
)
from internal.dag.graph import Graph
from internal.dag.readiness import InvalidExpression, Readiness, dependency_ready
from internal.explain.answer import Answer

Source = HelmChart | HelmRepository | GitRepository | Bucket | OCIRepository | ExternalArtifact
"""A source kind, as its typed model."""

SOURCE_TYPES = (HelmChart, HelmRepository, GitRepository, Bucket, OCIRepository, ExternalArtifact)

READY, STALLED, RECONCILING = "Ready", "Stalled", "Reconciling"
RELEASED, TEST_SUCCESS, REMEDIATED = "Released", "TestSuccess", "Remediated"

FAILED_REASONS = {
    "InstallFailed": "install",
    "UpgradeFailed": "upgrade",
    "TestFailed": "test",
    "RollbackFailed": "rollback",
    "UninstallFailed": "uninstall",
}
"""The Ready (or Released, TestSuccess) reasons of a failed Helm action, and its verb."""

HEALTH_CHECK_FAILED = "health check failed: "
"""How the controller's message of an install or upgrade failed by healthCheckExprs begins."""


@dataclass(frozen=True, order=True)
class Ref:
    """An object by kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Link:
    """One object of the source chain; `obj` is None when it does not exist."""

    ref: Ref
    obj: Source | None
    invalid: str = ""
    """Why the object could not be read as its model, when it could not."""


@dataclass(frozen=True)
class Stored:
    """The newest version of the release in Helm storage, from its Secret's labels."""

    secret: Ref
    version: int
    status: str


@dataclass(frozen=True)
class Container:
    name: str
    state: str
    """waiting, running or terminated."""
    reason: str = ""
    exit_code: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str
    count: int = 1


@dataclass(frozen=True)
class Pod:
    """A hook or test pod of the failed action, read through the API."""

    ref: Ref
    role: str
    """'test' or 'hook'."""
    phase: str
    containers: tuple[Container, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def exit_code(self) -> int | None:
        """The first non-zero exit code of a terminated container, else the first one."""
        codes = [c.exit_code for c in self.containers if c.exit_code is not None]
        return next((c for c in codes if c != 0), codes[0] if codes else None)

    @property
    def failed(self) -> bool:
        return self.phase == "Failed" or bool(self.exit_code)


@dataclass(frozen=True)
class Dependency:
    """One dependsOn entry: the release it names (None when absent, or invalid: then `answer`
    says so), whether it counts as ready for the dependent (Flux's check or the readyExpr), and
    its own answer when not."""

    key: str
    release: HelmRelease | None
    ready: bool
    message: str = ""
    answer: Answer | None = None


@dataclass(frozen=True)
class Facts:
    release: HelmRelease
    sources: tuple[Link, ...] = ()
    """The chart source first (HelmChart or chartRef), then the source it is made from."""
    stored: Stored | None = None
    remote: bool = False
    """The release is in a remote cluster (spec.kubeConfig): its Helm storage and pods were
    not read (their credentials are a Secret's, which `why` does not read)."""
    dependencies: tuple[Dependency, ...] = ()
    cycle: tuple[str, ...] | None = None
    """The dependsOn cycle the release is part of, members in dependency order."""
    pods: tuple[Pod, ...] = ()

    @property
    def ref(self) -> Ref:
        meta = self.release.metadata
        return Ref("HelmRelease", meta.namespace or "default", meta.name or "")

    def condition(self, type_: str) -> Condition | None:
        status = self.release.status
        return conditions.get(status.conditions if status else None, type_)


# What to read, for a release.


def chart_source(hr: HelmRelease) -> Ref:
    """The object whose artifact is the chart: the generated HelmChart, or the chartRef."""
    ns = chart_source_namespace(hr)
    if hr.spec.chart is not None:
        return Ref("HelmChart", ns, helm_chart_name(hr))
    assert hr.spec.chart_ref is not None  # the model requires chart or chartRef
    return Ref(str(hr.spec.chart_ref.kind), ns, hr.spec.chart_ref.name)


def upstream(hr: HelmRelease, chart: Source | None) -> Ref | None:
    """The source a HelmChart is made from: the HelmChart's sourceRef when it exists, else
    what the release's chart template names. None for a chartRef to anything else."""
    if isinstance(chart, HelmChart):
        ns = chart.metadata.namespace or chart_source_namespace(hr)
        return Ref(chart.spec.source_ref.kind, ns, chart.spec.source_ref.name)
    if chart is None and hr.spec.chart is not None:
        ref = hr.spec.chart.spec.source_ref
        return Ref(ref.kind, chart_source_namespace(hr), ref.name)
    return None


def storage(hr: HelmRelease) -> tuple[str, str]:
    """(namespace, release name) of the release's Helm storage: the status's storage
    namespace when the controller recorded one, as the controller reads it."""
    ns = (hr.status.storage_namespace if hr.status else None) or storage_namespace(hr)
    return ns, release_name(hr)


def failed_action(hr: HelmRelease) -> tuple[str, Condition, bool] | None:
    """The Helm action whose failure keeps the release from Ready: (verb, the condition that
    reports it, whether a remediation succeeded since). Ready's own reason when it is a failed
    action; after a successful rollback or uninstall, the failed TestSuccess or Released."""
    status = hr.status
    conds = status.conditions if status else None
    ready = conditions.get(conds, READY)
    if ready is not None and ready.status is ConditionStatus.FALSE:
        verb = FAILED_REASONS.get(ready.reason)
        if verb is not None:
            return verb, ready, False
    if conditions.is_true(conds, REMEDIATED):
        for type_ in (TEST_SUCCESS, RELEASED):
            c = conditions.get(conds, type_)
            if c is not None and c.status is ConditionStatus.FALSE and c.reason in FAILED_REASONS:
                return FAILED_REASONS[c.reason], c, True
    return None


# Helm names the pods and Jobs of failed hooks in these forms, by waiter and Helm version.
_NAMED = (
    re.compile(r"\b(?P<kind>Pod|Job)/(?P<ns>[a-z0-9.-]+)/(?P<name>[a-z0-9.-]+)"),
    re.compile(r"\b(?P<kind>pod|job) \"?(?P<name>[a-z0-9][a-z0-9.-]*)\"? failed"),
)


def pods_to_read(hr: HelmRelease) -> list[tuple[Ref, str]]:
    """The test and hook pods (or Jobs, whose pods the caller lists) of the failed action, with
    their role: the failed test hooks of the newest snapshot, then what the message names."""
    failed = failed_action(hr)
    if failed is None:
        return []
    verb, cond, _ = failed
    ns = target_namespace(hr)
    out: list[tuple[Ref, str]] = []
    latest = hr.status.latest() if hr.status else None
    if verb == "test" and latest is not None:
        out.extend((Ref("Pod", ns, name), "test") for name in sorted(latest.failed_tests()))
    for pattern in _NAMED:
        for m in pattern.finditer(cond.message):
            kind = "Pod" if m.group("kind").lower() == "pod" else "Job"
            found = m.groupdict().get("ns") or ns
            ref = Ref(kind, found, m.group("name").rstrip("."))
            role = "test" if verb == "test" else "hook"
            if all(ref != r for r, _ in out):
                out.append((ref, role))
    return out


def dependency_key(hr: HelmRelease, ref: DependencyReference) -> str:
    return f"{ref.namespace or hr.metadata.namespace or 'default'}/{ref.name}"


def dependency_readiness(
    dependent: HelmRelease, dep: HelmRelease, ref: DependencyReference
) -> Readiness:
    """Whether `dep` counts as ready for `dependent`, as the controller decides it: Flux's
    check (Ready=True at the current generation) or the readyExpr. An expression that does not
    compile is not ready, with the compiler's message."""
    try:
        return dependency_ready(dependent.to_wire(), dep.to_wire(), ref.ready_expr)
    except InvalidExpression as exc:
        return Readiness(False, str(exc))


def cycle_of(key: str, edges: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The dependsOn cycle `key` is part of, over the releases read (`edges`: each release's
    dependencies), members in dependency order; None when it is in none."""
    cycle = Graph.build(edges).cycle_of(key)
    return tuple(cycle) if cycle else None
