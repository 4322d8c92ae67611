"""The status operator-sdk's Helm operator writes on a watched object: its four condition types
and the deployed release. Pure: conditions are set and removed on a copy of the typed status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ConditionType(StrEnum):
    INITIALIZED = "Initialized"
    DEPLOYED = "Deployed"
    RELEASE_FAILED = "ReleaseFailed"
    IRRECONCILABLE = "Irreconcilable"


class Reason(StrEnum):
    INSTALL_SUCCESSFUL = "InstallSuccessful"
    UPGRADE_SUCCESSFUL = "UpgradeSuccessful"
    UNINSTALL_SUCCESSFUL = "UninstallSuccessful"
    INSTALL_ERROR = "InstallError"
    UPGRADE_ERROR = "UpgradeError"
    RECONCILE_ERROR = "ReconcileError"
    UNINSTALL_ERROR = "UninstallError"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )


class Condition(_Model):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None


class DeployedRelease(_Model):
    name: str | None = None
    manifest: str | None = None


class AppStatus(_Model):
    conditions: list[Condition] = Field(default_factory=list)
    deployed_release: DeployedRelease | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> AppStatus:
        """The status of an object as read; one that does not parse starts empty, as
        operator-sdk's does."""
        try:
            return cls.model_validate(raw or {})
        except ValueError:
            return cls()

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "conditions": [c.model_dump(by_alias=True, exclude_none=True) for c in self.conditions]
        }
        if self.deployed_release is not None:
            out["deployedRelease"] = self.deployed_release.model_dump(
                by_alias=True, exclude_none=True
            )
        return out

    def get(self, type_: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def set(
        self,
        type_: ConditionType,
        status: bool,
        reason: Reason | None = None,
        message: str = "",
        now: datetime | None = None,
    ) -> None:
        """Set a condition; its transition time moves only when its status changes."""
        value = "True" if status else "False"
        old = self.get(type_)
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        changed = old is None or old.status != value
        condition = Condition(
            type=type_,
            status=value,
            reason=reason,
            message=message or None,
            last_transition_time=stamp if changed or old is None else old.last_transition_time,
        )
        if old is None:
            self.conditions.append(condition)
        else:
            self.conditions[self.conditions.index(old)] = condition

    def remove(self, type_: ConditionType) -> None:
        self.conditions = [c for c in self.conditions if c.type != type_]
