"""Property-based fuzzing of chart metadata and values documents read from untrusted charts:
Chart.yaml (parse_metadata), a Chart.yaml rewrite (set_chart_version) and valuesFiles
merging. The result is valid or a ChartError; never another exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from internal.sources.chart import (
    ChartError,
    merge_values_files,
    parse_metadata,
    set_chart_version,
)
from internal.sources.semver import Version
from tests.fuzz.strategies import BOMBS, dump, json_like, yaml_soup

chart_docs = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.one_of(st.sampled_from(["v1", "v2"]), json_like),
        "name": st.one_of(st.sampled_from(["c", "my-chart", "a/b", ".."]), json_like),
        "version": st.one_of(st.sampled_from(["1.0.0", "1.0", "v1.2.3+x", "01.0.0"]), json_like),
        "dependencies": json_like,
    },
)


def _check_metadata(data: bytes) -> None:
    try:
        meta = parse_metadata(data)
    except ChartError:
        return
    assert meta.name
    assert "/" not in meta.name
    Version.parse(meta.version)
    assert all(isinstance(d, dict) for d in meta.dependencies)


@given(chart_docs, st.booleans())
@example({"name": "c", "version": "1.0.0", "dependencies": True}, False)  # .dependencies raised
def test_chart_yaml_documents(doc: dict[str, Any], flow: bool) -> None:
    _check_metadata(dump(doc, flow).encode())


@given(st.one_of(st.binary(max_size=256), yaml_soup.map(str.encode)))
@example(b"name: c\nversion: 1.0.0\ndependencies: &d [*d]\n")
def test_chart_yaml_bytes(data: bytes) -> None:
    _check_metadata(data)


@pytest.mark.parametrize("bomb", range(len(BOMBS)))
def test_chart_yaml_bombs_are_chart_errors(bomb: int) -> None:
    with pytest.raises(ChartError):
        parse_metadata(f"name: c\nversion: 1.0.0\nx:\n{BOMBS[bomb]}".encode())
    with pytest.raises(ChartError):
        parse_metadata(BOMBS[bomb].encode())


@given(st.one_of(chart_docs.map(lambda d: dump(d, False).encode()), st.binary(max_size=128)))
def test_set_chart_version(data: bytes) -> None:
    try:
        out = set_chart_version(data, "1.2.3+abc")
    except ChartError:
        return
    assert b"1.2.3+abc" in out


@given(st.lists(st.one_of(json_like.map(lambda d: dump(d, False)), yaml_soup), max_size=4))
@example(list(BOMBS))
def test_merge_values_files(texts: list[str]) -> None:
    try:
        merged = merge_values_files((f"v{i}.yaml", t.encode()) for i, t in enumerate(texts))
    except ChartError:
        return
    assert isinstance(merged, dict)
