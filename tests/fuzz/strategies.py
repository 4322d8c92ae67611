"""Shared hypothesis strategies: JSON-like values and YAML texts built around them."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["1.0.0", "v2", "~", "null", "*", "0x1F", "1e400", "", "yes", "-", "x" * 300]),
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["name", "version"])), inner, max_size=4
        )
    ),
    max_leaves=20,
)

YAML_SOUP = [
    "&a ",
    "*a",
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
    "<<: ",
    "!!binary ",
    "'",
    '"',
    "\t",
    "%YAML 1.1\n",
    "---\n",
    "...",
]
yaml_soup = st.lists(st.sampled_from(YAML_SOUP), max_size=30).map("".join)


def dump(doc: Any, flow: bool) -> str:
    return yaml.safe_dump(doc, default_flow_style=flow)


BOMBS = [
    "&a [*a]",
    "a: &a {b: *a}",
    "\n".join(
        ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    ),
    "[" * 10_000,
    "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 3000)),
]
"""Documents that loaded as cycles, exponential graphs or blew Python's recursion limit."""
