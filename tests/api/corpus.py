"""The YAML corpus under tests/data: valid documents, and invalid ones with what they break."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "data"
VALID = sorted((DATA / "valid").glob("*.yaml"))
INVALID = sorted((DATA / "invalid").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path.name}: not a single mapping"
    return doc


@dataclass(frozen=True)
class Expectation:
    """What an invalid document must be rejected for: the field, and maybe a message."""

    field: str
    message: str | None


def expectation(path: Path) -> Expectation:
    headers = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(": ")
        headers[key] = value.strip()
    assert "field" in headers, f"{path.name}: no '# field:' header"
    return Expectation(headers["field"], headers.get("message"))


def schema_paths(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every field path a CRD schema declares; lists add no step, maps add '*'."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if "items" in schema:
        yield from schema_paths(schema["items"], prefix)
        return
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from schema_paths(sub, path)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping) and "properties" in extra:
        yield from schema_paths(extra, f"{prefix}.*")


def doc_paths(value: Any, schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every field path a document sets, spelled as `schema_paths` spells them."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, list):
        for item in value:
            yield from doc_paths(item, schema.get("items", {}), prefix)
        return
    if not isinstance(value, dict):
        return
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for name, sub in value.items():
        if properties is not None and name in properties:
            path = f"{prefix}.{name}" if prefix else name
            yield path
            yield from doc_paths(sub, properties[name], path)
        elif isinstance(extra, Mapping):
            yield from doc_paths(sub, extra, f"{prefix}.*")
