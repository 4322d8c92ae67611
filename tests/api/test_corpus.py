"""The corpus against the models alone: no cluster needed."""

from __future__ import annotations

from pathlib import Path

import pytest

import api
from api.crds import KINDS, custom_resource_definition
from tests.api.corpus import INVALID, VALID, doc_paths, expectation, load, schema_paths

pytestmark = pytest.mark.api


def test_the_corpus_is_large_enough() -> None:
    assert len(VALID) + len(INVALID) >= 30
    kinds = {load(path)["kind"] for path in VALID}
    assert kinds == {kind.resource.kind for kind in KINDS}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_documents_round_trip(path: Path) -> None:
    doc = load(path)
    obj = api.parse(doc)
    assert obj.to_wire() == doc
    assert api.parse(obj.to_wire()) == obj


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_documents_are_refused_naming_the_field(path: Path) -> None:
    expect = expectation(path)
    with pytest.raises(api.ParseError) as caught:
        api.parse(load(path))
    paths = [field for field, _ in caught.value.problems]
    assert expect.field in paths, str(caught.value)
    if expect.message:
        assert expect.message in str(caught.value)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.resource.kind)
def test_every_field_is_exercised_by_a_valid_document(kind: type[api.FluxObject]) -> None:
    root = custom_resource_definition(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    declared = {
        path for top in ("spec", "status") for path in schema_paths(root["properties"][top], top)
    }
    used: set[str] = set()
    for path in VALID:
        doc = load(path)
        if doc["kind"] == kind.resource.kind:
            for top in ("spec", "status"):
                if top in doc:
                    used |= set(doc_paths(doc[top], root["properties"][top], top))
    assert sorted(declared - used) == []
