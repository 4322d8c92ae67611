"""The models build their validators on first use (`defer_build`), not at import: a model whose
schema cannot be built would fail only when first used, so each is built here."""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

pytestmark = pytest.mark.api

MODULES = (
    "api.meta",
    "api.helmrelease",
    "api.sources",
    "api.kustomize",
    "internal.helm.models",
    "internal.watches.config",
    "internal.watches.selector",
    "internal.watches.status",
)


def models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for name in MODULES:
        module = importlib.import_module(name)
        found.extend(
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, BaseModel)
            and value.__module__ == name
            and not value.__pydantic_generic_metadata__["parameters"]
        )
    return found


def test_every_model_defers_its_build_and_builds() -> None:
    found = models()
    assert len(found) > 150
    for model in found:
        assert model.model_config.get("defer_build") is True, model.__qualname__
        model.model_rebuild(force=True)
        assert model.__pydantic_complete__, model.__qualname__
        model.model_json_schema(by_alias=True)
