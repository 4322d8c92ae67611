from __future__ import annotations

import hashlib

import pytest

from api.digests import canonical_json, digest

pytestmark = pytest.mark.api


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": 2, "c": "é"}], "a": None}) == (
        '{"a":null,"b":[1,{"c":"é","d":2}]}'.encode()
    )


def test_digests_are_sha256_of_canonical_json() -> None:
    assert digest({"replicaCount": 2}) == _sha('{"replicaCount":2}')
