"""Turn a Kubernetes object, as a dict, into its typed model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from api.kinds import BY_API_VERSION_AND_KIND as MODELS
from api.meta import FluxObject


class ParseError(ValueError):
    """An object the models cannot take. `problems` pairs a field path with what is wrong."""

    def __init__(self, subject: str, problems: list[tuple[str, str]]) -> None:
        self.subject = subject
        self.problems = problems
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"{subject} is invalid:\n{lines}")


def parse(obj: Mapping[str, Any]) -> FluxObject:
    """The typed model of `obj`, which must be a supported apiVersion and kind.

    Validation follows the API server: wire (camelCase) names only, JSON types without
    coercion, unknown fields rejected.
    """
    if not isinstance(obj, Mapping):  # a YAML document can be anything
        raise ParseError("object", [("(root)", f"expected an object, got {type(obj).__name__}")])
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    subject = _subject(obj)
    model = MODELS.get((str(api_version), str(kind)))
    if model is None:
        raise ParseError(subject, [_unsupported(api_version, kind)])
    # Through JSON, as kubectl sends it: YAML timestamps become strings, and strict mode
    # then rejects exactly what the API server rejects for its JSON types.
    text = json.dumps(obj, default=_json_default)
    try:
        return model.model_validate_json(text, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ParseError(subject, [_problem(error) for error in exc.errors()]) from None


def _unsupported(api_version: object, kind: object) -> tuple[str, str]:
    if not api_version:
        return "apiVersion", "required"
    if not kind:
        return "kind", "required"
    known = ", ".join(f"{v} {k}" for v, k in sorted(MODELS))
    return "kind", f"{api_version} {kind} is not supported (supported: {known})"


def _subject(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind") or "object"
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return str(kind)
    name = metadata.get("name") or "<unnamed>"
    namespace = metadata.get("namespace")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _problem(error: Any) -> tuple[str, str]:
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "Required value"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return path or "(root)", message


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON")
