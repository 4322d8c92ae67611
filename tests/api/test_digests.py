from __future__ import annotations

import hashlib

import pytest

from api.digests import (
    canonical_json,
    common_metadata_digest,
    digest,
    post_renderers_digest,
    values_digest,
)
from api.helmrelease import CommonMetadata, Kustomize, PostRenderer
from api.kustomize import Image

pytestmark = pytest.mark.api


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": 2, "c": "é"}], "a": None}) == (
        '{"a":null,"b":[1,{"c":"é","d":2}]}'.encode()
    )


def test_digests_are_sha256_of_canonical_json() -> None:
    assert digest({"replicaCount": 2}) == _sha('{"replicaCount":2}')


def test_values_digest_ignores_key_order() -> None:
    assert values_digest({"a": 1, "b": {"y": 2, "x": 1}}) == values_digest(
        {"b": {"x": 1, "y": 2}, "a": 1}
    )


def test_no_values_and_empty_values_are_the_same() -> None:
    assert values_digest(None) == values_digest({}) == _sha("{}")


def test_values_digest_changes_with_the_values() -> None:
    assert values_digest({"a": 1}) != values_digest({"a": 2})


def test_unset_post_renderers_and_common_metadata_have_no_digest() -> None:
    assert post_renderers_digest(None) == ""
    assert common_metadata_digest(None) == ""


def test_post_renderers_digest_uses_wire_names() -> None:
    renderers = [PostRenderer(kustomize=Kustomize(images=[Image(name="nginx", new_tag="1.27")]))]
    assert post_renderers_digest(renderers) == _sha(
        '[{"kustomize":{"images":[{"name":"nginx","newTag":"1.27"}]}}]'
    )
    assert post_renderers_digest([]) == _sha("[]")


def test_common_metadata_digest() -> None:
    metadata = CommonMetadata(labels={"team": "a"}, annotations={"x": "y"})
    assert common_metadata_digest(metadata) == _sha(
        '{"annotations":{"x":"y"},"labels":{"team":"a"}}'
    )
