"""$VAR expansion, case for case what Go's os.Expand gave for the same inputs (go1.26)."""

from __future__ import annotations

import pytest

from internal.watches.expand import expand_env

ENV = {
    "HOME": "/root",
    "HOMEx": "HX",
    "_U": "u",
    "1": "one",
    "12": "twelve",
    "$": "pid",
    "-": "dash",
    "#": "hash",
    "*": "star",
    "a b": "ab",
    "é": "E",
}

CASES = [
    ("plain", "plain"),
    ("$HOME", "/root"),
    ("${HOME}", "/root"),
    ("$HOME/x", "/root/x"),
    ("${HOME}x", "/rootx"),
    ("$HOMEx", "HX"),
    ("$HOME$HOME", "/root/root"),
    ("pre-${HOME}-$HOME-post", "pre-/root-/root-post"),
    ("$_U", "u"),
    ("$UNSET", ""),
    # One-character shell specials: `$12` is `$1` then `2`, but `${12}` is a name.
    ("$1", "one"),
    ("$12", "one2"),
    ("${1}", "one"),
    ("${12}", "twelve"),
    ("$$", "pid"),
    ("a$$b", "apidb"),
    ("${$}", "pid"),
    ("$-x", "dashx"),
    ("${#}", "hash"),
    ("${*}x", "starx"),
    # Braces take anything up to the first `}`.
    ("${a b}", "ab"),
    ("${é}", "E"),
    ("${HOME}}", "/root}"),
    # A `$` that starts no name stays.
    ("$", "$"),
    ("a$", "a$"),
    ("100$", "100$"),
    ("$ x", "$ x"),
    ("$.x", "$.x"),
    ("$%", "$%"),
    ("$é", "$é"),
    # Bad brace syntax is dropped.
    ("${}", ""),
    ("${}x", "x"),
    ("${HOME", "HOME"),
    ("${abc", "abc"),
    ("x${", "x"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_as_go_expands(text: str, expected: str) -> None:
    assert expand_env(text, ENV) == expected


def test_a_set_but_empty_variable_is_empty() -> None:
    assert expand_env("[$E]", {"E": ""}) == "[]"
