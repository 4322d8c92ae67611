"""Property-based fuzzing of api.parse on structures hypothesis builds around the valid corpus
(HelmRelease and every source kind): a refused document is an api.ParseError naming a field,
an accepted one round-trips, and a HelmRelease's post-renderers convert to the engine's
models and encode as the engine sends them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import api
from api.helmrelease import HelmRelease
from internal.manager.options import post_renderer
from tests.api.corpus import VALID, load
from tests.fuzz.strategies import json_like


def test_a_document_that_is_not_an_object_is_a_parse_error() -> None:
    for doc in (None, [], "x", 1):
        with pytest.raises(api.ParseError, match="expected an object"):
            api.parse(doc)  # type: ignore[arg-type]


DOCS = [load(p) for p in VALID]
POST_RENDERERS = [
    {"kustomize": {"patches": [{"patch": "x", "target": {"kind": "A", "name": "["}}]}},
    {"kustomize": {"images": [{"name": "a", "newTag": "1", "digest": "sha256:x"}]}},
    {"kustomize": {"patches": [{"patch": "- op: add\n  path: /a\n  value: 1"}], "images": []}},
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    if doc.get("kind") == "HelmRelease" and draw(st.booleans()):
        # Copies: the mutations below must never reach the strategies' own objects.
        doc.setdefault("spec", {})["postRenderers"] = copy.deepcopy(
            draw(st.lists(st.one_of(st.sampled_from(POST_RENDERERS), json_like), max_size=3))
        )
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(doc)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(json_like))
    return doc


@given(mutated())
def test_mutated_specs_parse_or_name_a_field(doc: dict[str, Any]) -> None:
    try:
        model = api.parse(doc)
    except api.ParseError as exc:
        problems = exc.problems
        assert problems, "a ParseError names at least one field"
        return
    assert api.parse(model.to_wire()) == model
    if isinstance(model, HelmRelease):
        for pr in model.spec.post_renderers or []:
            json.dumps(post_renderer(pr).model_dump(mode="json"))


@given(json_like)
def test_arbitrary_structures(doc: Any) -> None:
    try:
        api.parse(doc)
    except api.ParseError as exc:
        problems = exc.problems
        assert problems, "a ParseError names at least one field"
