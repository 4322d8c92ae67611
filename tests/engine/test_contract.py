"""One wire contract: the binding's models and op table agree with the shim's Go types.

The shim's `schema` op reads its own dispatch table and structs by reflection, so this compares
the Python side with what the Go side really decodes and encodes: the JSON field paths of the
envelope, of each op's options and result, of the version info, and the error codes. A field
renamed, added or dropped on one side fails here, naming the path.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from internal.helm import Engine, library
from internal.helm.errors import _BY_CODE
from internal.helm.models import (
    Envelope,
    InstallRequest,
    Response,
    SchemaResult,
    VersionInfo,
)
from internal.helm.ops import OPS

pytestmark = pytest.mark.engine


def _unwrap(tp: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(tp) if a is not type(None)]
            if len(inner) != 1:
                return tp
            tp = inner[0]
        else:
            return tp


def _model(tp: Any) -> type[BaseModel] | None:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def paths(model: type[BaseModel]) -> list[str]:
    """The JSON field paths of a model, written as the shim writes them: `a.b` a field of a
    nested object, `a[]` an array, `a{}` a map of objects."""
    out: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = prefix + (info.serialization_alias or info.alias or name)
            tp = _unwrap(info.annotation)
            if get_origin(tp) is list:
                path, tp = path + "[]", _unwrap(get_args(tp)[0])
            elif get_origin(tp) is dict and _model(_unwrap(get_args(tp)[1])):
                path, tp = path + "{}", _unwrap(get_args(tp)[1])
            out.append(path)
            if (nested := _model(tp)) is not None:
                walk(nested, path + ".")

    walk(model, "")
    return sorted(out)


@pytest.fixture(scope="module")
async def schema(engine: Engine) -> SchemaResult:
    return await engine.schema()


def test_the_walk_reaches_nested_fields() -> None:
    walked = paths(InstallRequest)
    assert "postRenderers[].kustomize.patches[].target.labelSelector" in walked
    assert "disableOpenAPIValidation" in walked
    assert "observations[].release.hooks[].lastRun.startedAt" in paths(Response)


async def test_the_abi_versions_agree(schema: SchemaResult) -> None:
    assert schema.abi == library.ABI_VERSION


async def test_both_sides_know_the_same_ops(schema: SchemaResult) -> None:
    assert sorted(OPS) == sorted(schema.ops)
    offline = {name for name, op in OPS.items() if op.offline}
    assert offline == {name for name, op in schema.ops.items() if op.offline}


@pytest.mark.parametrize("name", sorted(OPS))
async def test_each_op_has_the_same_fields_both_ways(schema: SchemaResult, name: str) -> None:
    op, wire = OPS[name], schema.ops[name]
    assert paths(op.request) == wire.request, f"{name}: the options Python sends"
    assert paths(op.result) == wire.result, f"{name}: the result the shim answers"


async def test_the_envelope_and_version_have_the_same_fields(schema: SchemaResult) -> None:
    assert paths(Envelope) == schema.envelope.request
    assert paths(Response) == schema.envelope.response
    assert paths(VersionInfo) == schema.version


async def test_every_error_code_has_its_exception(schema: SchemaResult) -> None:
    assert sorted(_BY_CODE) == schema.error_codes
