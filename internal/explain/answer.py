"""The answer to "why is this HelmRelease not Ready": the first cause, the evidence under it,
and the command that fixes it or shows more. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

INDENT = "  "
NEXT = "next: "


class Cause(StrEnum):
    """The causes, in the order `explain` looks for them; READY, and NOT_FOUND, INVALID and
    NOT_READY (no cause of the chain) aside."""

    READY = "Ready"
    NOT_FOUND = "NotFound"
    INVALID = "Invalid"
    SUSPENDED = "Suspended"
    SOURCE = "SourceNotReady"
    ARTIFACT = "ArtifactMissing"
    DEPENDENCY = "DependencyNotReady"
    CYCLE = "DependencyCycle"
    LOCKED = "ReleaseLocked"
    VALUES = "ValuesError"
    APPROVAL = "AwaitingApproval"
    ACTION = "ActionFailed"
    HEALTH = "HealthCheckFailed"
    STALLED = "Stalled"
    NOT_READY = "NotReady"
    """None of the above: the Ready condition as the controller wrote it (reconciling, not
    reconciled yet, or a reason of its own)."""


@dataclass(frozen=True)
class Answer:
    kind: str
    namespace: str
    name: str
    cause: Cause
    summary: str
    """The first line: the subject and its first cause."""
    evidence: tuple[str, ...] = ()
    """What was read that shows the cause, one line each; a leading INDENT nests a line."""
    hint: str = ""
    """The command that fixes the cause or shows more."""
    dependency: Answer | None = None
    """For a dependency that is not ready, its own answer."""

    @property
    def ready(self) -> bool:
        return self.cause is Cause.READY

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def render(self) -> list[str]:
        """The lines to print: the summary, the evidence indented under it (a dependency's
        own answer first, nested), then the command."""
        lines = [self.summary, *self._body()]
        if self.hint:
            lines.append(INDENT + NEXT + self.hint)
        return lines

    def _body(self) -> list[str]:
        lines: list[str] = []
        if self.dependency is not None:
            nested = [self.dependency.summary, *self.dependency._body()]
            lines.extend(INDENT + line for line in nested)
        lines.extend(INDENT + line for line in self.evidence)
        return lines

    def to_data(self) -> dict[str, Any]:
        """The answer for `-o json|yaml`."""
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "ready": self.ready,
            "cause": self.cause.value,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "hint": self.hint,
            "dependency": self.dependency.to_data() if self.dependency else None,
        }
