"""Property-based fuzzing of index.yaml parsing (parse_index): an index from a Helm repository
is untrusted. Whatever the bytes, the result is an Index or IndexError_; aliases that would
crash rapidyaml's resolver (one inside the node it names) or blow up the tree are refused."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from internal.sources.helmindex import MAX_ALIAS_EXPANSION, Index, IndexError_, parse_index

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["1.0.0", "v1.2.3-rc.1+b", "~", "null", "*", ">=1 <2", "1.10", ""]),
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
entry = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=8), json_like),
        "version": st.one_of(st.sampled_from(["1.0.0", "2.0.0-rc.1", "1.10", "x"]), json_like),
        "urls": st.one_of(st.lists(st.text(max_size=20), max_size=3), json_like),
        "digest": json_like,
        "created": st.one_of(st.sampled_from(["2024-01-01T00:00:00Z"]), json_like),
        "deprecated": json_like,
        "apiVersion": json_like,
    },
)
index_docs = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.one_of(st.just("v1"), json_like),
        "entries": st.one_of(
            st.dictionaries(
                st.text(max_size=8), st.one_of(st.lists(entry, max_size=3), json_like), max_size=4
            ),
            json_like,
        ),
        "generated": json_like,
    },
)

SELF_ALIAS = b"apiVersion: v1\nentries: &e\n  x: [*e]\n"


def _check(data: bytes) -> None:
    try:
        index = parse_index(data)
    except IndexError_:
        return
    assert isinstance(index, Index)
    assert index.api_version
    for name in index.names():
        for cv in index.versions(name):
            assert isinstance(cv.version, str)
            assert cv.version
            assert all(isinstance(u, str) for u in cv.urls)


@given(index_docs, st.booleans())
def test_structured_indexes(doc: dict[str, object], as_json: bool) -> None:
    text = yaml.safe_dump(doc) if not as_json else yaml.safe_dump(doc, default_flow_style=True)
    _check(text.encode())


@given(st.binary(max_size=512))
@example(b"&a [*a]")
@example(SELF_ALIAS)
@example(b"apiVersion: v1\nentries:\n  x: &v [{name: x, version: 1.0.0, urls: [*v]}]\n")
@example(b"apiVersion: v1\nentries: *missing\n")
@example(b"\x00\xff")
@example(b"apiVersion: [\n")
def test_arbitrary_bytes(data: bytes) -> None:
    _check(data)


@given(
    st.lists(
        st.sampled_from(
            [
                "&a ",
                "*a",
                "&b ",
                "*b",
                "[",
                "]",
                "{",
                "}",
                ": ",
                ", ",
                "x",
                "\n",
                "- ",
                "  ",
                "apiVersion: v1\n",
                "entries:\n",
                "<<: ",
            ]
        ),
        max_size=30,
    )
)
def test_anchor_soup(parts: list[str]) -> None:
    _check("".join(parts).encode())


def test_self_referencing_alias_is_refused_not_a_crash() -> None:
    # rapidyaml's resolve() recursed until the process died (SIGSEGV) on these.
    for doc in (b"&a [*a]", SELF_ALIAS, b"apiVersion: v1\nentries:\n  x: &c\n    - *c\n"):
        with pytest.raises(IndexError_, match="alias refers to a node that contains it"):
            parse_index(doc)


def test_alias_expansion_is_bounded() -> None:
    levels = ["apiVersion: v1", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(IndexError_, match=f"more than {MAX_ALIAS_EXPANSION} nodes"):
        parse_index("\n".join(levels).encode())


def test_ordinary_aliases_still_resolve() -> None:
    doc = (
        b"apiVersion: v1\nu: &u [https://e/x-1.0.0.tgz]\n"
        b"entries:\n  x:\n  - {name: x, version: 1.0.0, urls: *u}\n"
    )
    assert parse_index(doc).get("x").urls == ("https://e/x-1.0.0.tgz",)
