"""Property-based fuzzing of values composition on untrusted ConfigMap and Secret data: Helm's
--set syntax for valuesFrom targetPath (strvals), values documents (read_values) and the
whole composition (compose). Errors are StrvalsError, ValueError/YAMLError or ValuesError."""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping
from typing import Any, cast

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from internal.values import strvals
from internal.values.compose import Reference, Values, ValuesError, compose, read_values, set_path
from internal.values.yamldoc import AliasBombError, check_expansion
from tests.fuzz.strategies import BOMBS, dump, json_like, yaml_soup

SET_ALPHABET = "ab0123.[]=,{}\\ -+_\u0661"
set_text = st.text(alphabet=SET_ALPHABET, max_size=40)


@given(set_text, st.booleans())
@example("a" + "[0]" * 5000 + "=1", False)
@example("a[0]." * 3000 + "a=1", False)
@example("a[1_0]=x", False)
@example("a[\u0661]=x", False)
@example("a[ 1 ]=x", False)
@example("a=" + "9" * 5000, False)
@example("a[" + "9" * 5000 + "]=1", False)
def test_strvals_parse_or_strvals_error(text: str, as_strings: bool) -> None:
    data: dict[str, Any] = {}
    try:
        strvals.parse_into(text, data, as_strings=as_strings)
    except strvals.StrvalsError:
        return
    json.dumps(data)  # as the engine sends it


def test_strvals_index_is_go_atoi() -> None:
    for text in ("a[1_0]=x", "a[\u0661]=x", "a[ 1 ]=x"):
        with pytest.raises(strvals.StrvalsError, match="error parsing index"):
            strvals.parse_into(text, {})
    data: dict[str, Any] = {}
    strvals.parse_into("a[+1]=x", data)
    assert data == {"a": [None, "x"]}


def test_strvals_deep_nesting_is_an_error() -> None:
    for text in ("a" + "[0]" * 5000 + "=1", "a[0]." * 3000 + "a=1"):
        with pytest.raises(strvals.StrvalsError, match="nested deeper than 200 levels"):
            strvals.parse_into(text, {})


def test_strvals_long_numbers_stay_strings() -> None:
    data: dict[str, Any] = {}
    strvals.parse_into("a=" + "9" * 5000, data)
    assert data == {"a": "9" * 5000}


@given(set_text, st.text(max_size=20), st.booleans())
def test_set_path(path: str, value: str, literal: bool) -> None:
    data: dict[str, Any] = {}
    try:
        set_path(data, path, value, literal=literal)
    except strvals.StrvalsError:
        return
    json.dumps(data)


@given(
    st.one_of(
        json_like.map(lambda d: dump(d, False).encode()),
        yaml_soup.map(str.encode),
        st.binary(max_size=128),
    )
)
def test_read_values(data: bytes) -> None:
    try:
        values = read_values(data)
    except (yaml.YAMLError, ValueError):
        return
    assert isinstance(values, dict)
    json.dumps(values)


@pytest.mark.parametrize("bomb", range(len(BOMBS)))
def test_values_bombs_are_yaml_errors(bomb: int) -> None:
    with pytest.raises(yaml.YAMLError):
        read_values(BOMBS[bomb].encode())


def test_shared_but_acyclic_values_are_counted_once_per_use() -> None:
    shared = {"k": [1, 2]}
    assert check_expansion({"a": shared, "b": shared}) == 1 + 2 * (1 + 1 + 2)
    with pytest.raises(AliasBombError):
        check_expansion({"a": shared, "b": shared}, max_nodes=8)


def run(coro: Coroutine[Any, Any, Values]) -> Values:
    """Run a coroutine that never suspends (the lookup answers at once) without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(Values, done.value)
    raise AssertionError("the composition suspended")


refs = st.builds(
    Reference,
    kind=st.sampled_from(["ConfigMap", "Secret", "Other"]),
    name=st.sampled_from(["one", "missing"]),
    values_key=st.sampled_from(["values.yaml", "k", "absent"]),
    target_path=st.one_of(st.just(""), set_text),
    optional=st.booleans(),
    literal=st.booleans(),
)
payloads = st.one_of(
    json_like.map(lambda d: dump(d, False).encode()),
    yaml_soup.map(str.encode),
    st.sampled_from([b.encode() for b in BOMBS]),
    st.binary(max_size=64),
)


@given(
    st.lists(refs, max_size=4),
    st.dictionaries(st.sampled_from(["values.yaml", "k"]), payloads),
    st.one_of(st.none(), st.dictionaries(st.text(max_size=4), json_like, max_size=3)),
)
def test_compose_gives_values_or_values_error(
    references: list[Reference], data: dict[str, bytes], inline: dict[str, Any] | None
) -> None:
    async def lookup(kind: str, name: str) -> Mapping[str, bytes] | None:
        return data if name == "one" else None

    try:
        values = run(compose(references, inline, "ns", lookup))
    except ValuesError as exc:
        leaked = [
            v for v in data.values() if len(v) > 8 and v.decode("utf-8", "replace") in str(exc)
        ]
        assert not leaked, "an error quotes the data"
        return
    json.dumps(values)
