"""Kubernetes' LabelSelector (matchLabels, matchExpressions) and its label-selector string.

api/ has no such model yet; this one follows metav1.LabelSelector field for field."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]

_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _check_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if (
        not name
        or len(name) > 63
        or not _NAME.fullmatch(name)
        or (slash and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)))
    ):
        raise ValueError(
            f"invalid label key {key!r}: expected [prefix/]name, a name of at most 63 "
            "alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric, "
            "the optional prefix a DNS subdomain"
        )
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid label value {value!r}: expected at most 63 alphanumerics, '-', '_' or "
            "'.' that start and end with an alphanumeric, or nothing"
        )
    return value


LabelKey = Annotated[str, AfterValidator(_check_key)]
LabelValue = Annotated[str, AfterValidator(_check_value)]


STRICT = ConfigDict(
    frozen=True,
    extra="forbid",
    strict=True,
    validate_by_name=True,
    validate_by_alias=True,
    defer_build=True,
)
"""The watches file's models: exactly what is written, by field name or alias, built on use."""


class _Model(BaseModel):
    model_config = STRICT


class LabelSelectorRequirement(_Model):
    key: LabelKey
    operator: Operator
    values: list[LabelValue] = Field(default_factory=list, validate_default=True)

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str], info: ValidationInfo) -> list[str]:
        operator = info.data.get("operator")
        if operator in ("In", "NotIn") and not values:
            raise ValueError(f"{operator} needs at least one value")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueError(f"{operator} takes no values")
        return values

    def term(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        word = "in" if self.operator == "In" else "notin"
        return f"{self.key} {word} ({','.join(sorted(set(self.values)))})"


class LabelSelector(_Model):
    match_labels: dict[LabelKey, LabelValue] | None = Field(default=None, alias="matchLabels")
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, alias="matchExpressions"
    )

    def to_string(self) -> str:
        """The selector as `kubectl -l` and the API's labelSelector take it, terms ordered by
        key as apimachinery prints them; empty when it selects everything."""
        terms = [(key, f"{key}={value}") for key, value in (self.match_labels or {}).items()]
        terms += [(req.key, req.term()) for req in self.match_expressions or []]
        terms.sort(key=lambda term: term[0])
        return ",".join(text for _, text in terms)
