"""overrideValues as --set-string assignments, and how they land on the object's spec."""

from __future__ import annotations

from typing import Any

import pytest

from internal.watches.values import OverrideError, merge, parse_overrides, release_values


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"a": "b"}, {"a": "b"}),
        ({"a.b.c": "d"}, {"a": {"b": {"c": "d"}}}),
        # Always strings, whatever they look like.
        (
            {"n": "3", "t": "true", "z": "null", "e": ""},
            {"n": "3", "t": "true", "z": "null", "e": ""},
        ),
        ({"a.b": "1", "a.c": "2"}, {"a": {"b": "1", "c": "2"}}),
        ({"list[0]": "x"}, {"list": ["x"]}),
        ({"list[2]": "x"}, {"list": [None, None, "x"]}),
        ({"list[1]": "y", "list[0]": "x"}, {"list": ["x", "y"]}),
        ({"a.list[1].b": "v"}, {"a": {"list": [None, {"b": "v"}]}}),
        ({"m[0][1]": "v"}, {"m": [[None, "v"]]}),
        ({r"a\.b": "c"}, {"a.b": "c"}),
        ({r"annotations.example\.com/owner": "me"}, {"annotations": {"example.com/owner": "me"}}),
        # The pair is parsed as one `key=value` line: a comma starts another assignment...
        ({"a": "1,b=2"}, {"a": "1", "b": "2"}),
        # ...unless escaped, and braces make a list.
        ({"a": r"1\,2"}, {"a": "1,2"}),
        ({"a": "{x,y}"}, {"a": ["x", "y"]}),
        ({"a": "x=y"}, {"a": "x=y"}),
        ({"url": "http://h:80/p?q=1"}, {"url": "http://h:80/p?q=1"}),
    ],
)
def test_parse_overrides(overrides: dict[str, str], expected: dict[str, Any]) -> None:
    assert parse_overrides(overrides) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"a": "1,b"}, 'override a: key "b" has no value'),
        ({"a[x]": "1"}, "override a\\[x\\]: error parsing index"),
        ({"a": "{x,y"}, "override a: list must terminate with '}'"),
        ({"a": "1", "a.b": "2"}, 'override a.b: key "a" is not a map'),
    ],
)
def test_parse_overrides_errors_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        parse_overrides(overrides)


def test_merge_overrides_win_and_maps_merge() -> None:
    spec = {"image": {"repository": "old", "tag": "1"}, "replicas": 2, "list": [1, 2], "m": {}}
    overrides = {"image": {"repository": "new"}, "list": ["x"], "replicas": {"n": "3"}, "m": "s"}
    assert merge(spec, overrides) == {
        "image": {"repository": "new", "tag": "1"},
        "replicas": {"n": "3"},
        "list": ["x"],
        "m": "s",
    }


def test_merge_leaves_its_inputs_alone() -> None:
    spec: dict[str, Any] = {"a": {"b": {"c": 1}}, "l": [1]}
    overrides: dict[str, Any] = {"a": {"b": {"d": 2}}}
    out = merge(spec, overrides)
    out["a"]["b"]["e"] = 3
    out["l"].append(2)
    assert spec == {"a": {"b": {"c": 1}}, "l": [1]}
    assert overrides == {"a": {"b": {"d": 2}}}


def test_release_values() -> None:
    spec = {"image": {"repository": "memcached", "tag": "1.6"}, "replicaCount": 3}
    overrides = {"image.repository": "mirror.example.com/memcached", "extra[0].name": "x"}
    assert release_values(spec, overrides) == {
        "image": {"repository": "mirror.example.com/memcached", "tag": "1.6"},
        "replicaCount": 3,
        "extra": [{"name": "x"}],
    }
