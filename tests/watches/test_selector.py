"""LabelSelector: validation and the label-selector string apimachinery would print."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from internal.watches.selector import LabelSelector


def selector(**wire: Any) -> LabelSelector:
    return LabelSelector.model_validate(wire, by_name=False)


def test_every_operator_sorted_by_key() -> None:
    s = selector(
        matchLabels={"tier": "cache", "app": "memcached"},
        matchExpressions=[
            {"key": "env", "operator": "In", "values": ["prod", "dev", "prod"]},
            {"key": "zone", "operator": "NotIn", "values": ["b", "a"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    )
    assert s.to_string() == (
        "app=memcached,canary,env in (dev,prod),!legacy,tier=cache,zone notin (a,b)"
    )


def test_empty_selects_everything() -> None:
    assert selector().to_string() == ""
    assert selector(matchLabels={}, matchExpressions=[]).to_string() == ""


def test_prefixed_keys_and_empty_values() -> None:
    s = selector(matchLabels={"app.kubernetes.io/name": "x", "example.com/flag": ""})
    assert s.to_string() == "app.kubernetes.io/name=x,example.com/flag="


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "In needs at least one value"),
        (
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]},
            "NotIn needs at least one value",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "Exists takes no values",
        ),
        ({"matchLabels": {"-a": "x"}}, "invalid label key '-a'"),
        ({"matchLabels": {"Bad_Prefix/a": "x"}}, "invalid label key 'Bad_Prefix/a'"),
        ({"matchLabels": {"a": "x y"}}, "invalid label value 'x y'"),
        ({"matchLabels": {"a": "v" * 64}}, "invalid label value"),
    ],
)
def test_invalid(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        selector(**wire)


def test_unknown_operator_and_field() -> None:
    with pytest.raises(ValidationError) as info:
        selector(matchExpressions=[{"key": "a", "operator": "Gt", "values": ["1"]}], match={})
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [
        (("matchExpressions", 0, "operator"), "literal_error"),
        (("match",), "extra_forbidden"),
    ]
