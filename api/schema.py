"""Facts about a field or a resource that Python types cannot carry, kept for the CRD generator.

The models annotate their fields with these markers; `api.crds` reads them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class OpenAPI:
    """Extra OpenAPI v3 keywords for one field, merged into the schema generated from its type.

    `replace` stands in for the generated schema entirely (for free-form JSON, say).
    `required` lists a field as required even though the model gives it a default, as Flux does
    for a few enums that the API server defaults.
    """

    pattern: str | None = None
    format: str | None = None
    required: bool = False
    replace: Mapping[str, Any] | None = None

    # typing hashes Annotated metadata (in `X | None`, for one); `replace` is a dict.
    def __hash__(self) -> int:
        return hash((self.pattern, self.format, self.required))


@dataclass(frozen=True)
class Rule:
    """A rule that spans fields of one object: a CEL rule for the API server, and the same rule
    in Python for `api.parse`. Both must agree; the corpus tests hold them to it."""

    cel: str
    message: str
    check: Callable[[Any], bool] = field(compare=False)


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")
READY = PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status')
STATUS = PrinterColumn("Status", '.status.conditions[?(@.type=="Ready")].message')


@dataclass(frozen=True)
class Resource:
    """How a top-level kind is served: its group, version, names and printer columns."""

    group: str
    version: str
    kind: str
    plural: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[PrinterColumn, ...] = (AGE, READY, STATUS)
    status_default: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"
