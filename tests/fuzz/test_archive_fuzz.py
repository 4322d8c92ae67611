"""Property-based fuzzing of the archive readers on untrusted input: source artifacts and OCI
layers (extract_tgz) and chart packages (read_package). A bad archive raises ArchiveError or
ChartError, never anything else; nothing is written outside the destination, every symlink
left there resolves inside it; bombs stop at the caps with memory bounded."""

from __future__ import annotations

import os
import tarfile
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from internal.sources.archive import MAX_HEADER_DATA, ArchiveError, extract_tgz
from internal.sources.chart import ChartError, Limits, read_package
from tests.fuzz.archives import (
    Member,
    content_bomb,
    many_entries,
    members,
    pax_bomb,
    tar_bytes,
    tgz,
)

MiB = 1 << 20
SYM, REG, DIR, LNK = tarfile.SYMTYPE, tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.LNKTYPE


@contextmanager
def sandbox() -> Iterator[Path]:
    """`<tmp>/l1/l2/out` with a sentinel beside it: after the block, nothing but `out` may
    have appeared anywhere up to `<tmp>` (a `../..` escape lands in one of these)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = root / "l1" / "l2" / "out"
        out.mkdir(parents=True)
        (root / "l1" / "l2" / "sentinel").mkdir()
        yield out
        assert os.listdir(root) == ["l1"]
        assert os.listdir(root / "l1") == ["l2"]
        assert sorted(os.listdir(root / "l1" / "l2")) == ["out", "sentinel"]
        assert os.listdir(root / "l1" / "l2" / "sentinel") == []
        assert_links_inside(out)


def assert_links_inside(out: Path) -> None:
    real = out.resolve()
    for dirpath, dirnames, filenames in os.walk(out):
        for entry in (*dirnames, *filenames):
            path = Path(dirpath) / entry
            if path.is_symlink():
                assert path.resolve(strict=False).is_relative_to(real), f"{path} leaves the tree"


def extract(data: bytes, out: Path, **caps: int) -> int | None:
    try:
        return extract_tgz(data, out, max_total=caps.pop("max_total", MiB), **caps)
    except ArchiveError:
        return None


@given(st.lists(members, max_size=8))
@example([Member("../evil", REG, b"x")])
@example([Member("/abs", REG, b"x")])
@example([Member("c/l", SYM, linkname="../../sentinel")])
@example([Member("c/l", SYM, linkname="/etc"), Member("c/l/passwd", REG, b"x")])
# A link into the tree, then a file through it: the write must stay inside.
@example([Member("c/l", SYM, linkname="."), Member("c/l/x", REG, b"x")])
# d/x -> .. is d's parent (inside); then y created through it points at ../outside.
@example([Member("d/x", SYM, linkname=".."), Member("d/x/y", SYM, linkname="../outside")])
@example(
    [
        Member("d/x", SYM, linkname=".."),
        Member("d/x/y", SYM, linkname="../sentinel/f"),
        Member("y", REG, b"escaped"),
    ]
)
# L -> x/../y is inside while x does not exist; x -> . then makes L climb out of the tree.
@example([Member("L", SYM, linkname="x/../y"), Member("x", SYM, linkname=".")])
@example(
    [
        Member("L", SYM, linkname="x/../sentinel"),
        Member("x", SYM, linkname="."),
        Member("L", REG, b"x"),
    ]
)
@example([Member("a", LNK, linkname="/etc/passwd")])
@example([Member("c", SYM, linkname="c"), Member("c/x", REG, b"x")])  # a loop: resolve() raised
@example([Member("c", SYM, linkname="d"), Member("d", SYM, linkname="c")])
@example([Member("c", SYM, linkname="a\x00b")])  # os.symlink raised ValueError
@example([Member("a", REG, b"1"), Member("a", REG, b"2"), Member("a", DIR)])
def test_extract_tgz_stays_inside(items: list[Member]) -> None:
    with sandbox() as out:
        extract(tgz(items), out)


@given(st.lists(members, max_size=6), st.data())
def test_extract_tgz_corrupted_bytes(items: list[Member], data: st.DataObject) -> None:
    raw = bytearray(tgz(items))
    cut = data.draw(st.integers(0, len(raw)), label="truncate at")
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), max_size=4)
    )
    for pos, value in flips:
        raw[pos] = value
    with sandbox() as out:
        extract(bytes(raw[:cut]), out)


@given(st.binary(max_size=2048))
@example(b"")
@example(b"\x1f\x8b")
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
def test_extract_tgz_garbage(data: bytes) -> None:
    with sandbox() as out:
        extract(data, out)


@given(st.lists(members, max_size=8))
@example([Member("c/Chart.yaml", REG, b"name: c"), Member("c/l", SYM, linkname="Chart.yaml")])
@example([Member("c/Chart.yaml", REG), Member("d/Chart.yaml", REG)])
@example([Member("c/../../Chart.yaml", REG)])
@example([Member("c\\..\\Chart.yaml", REG)])
def test_read_package_refuses_or_reads_safe_paths(items: list[Member]) -> None:
    data = tgz(items)
    try:
        files = read_package(data, Limits(chart=MiB, file=MiB // 2))
    except ChartError:
        return
    assert "Chart.yaml" in files
    for name in files:
        assert not name.startswith("/")
        assert ".." not in name.split("/")
        assert "\\" not in name


@given(st.binary(max_size=2048), st.booleans())
def test_read_package_garbage(data: bytes, as_tar: bool) -> None:
    with pytest.raises(ChartError):
        read_package(tar_bytes([Member("c/Chart.yaml", REG, data)]) if as_tar else data)


@contextmanager
def peak_below(limit: int) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak} bytes, over {limit}"


def test_pax_header_bomb_stops_at_the_header_cap() -> None:
    # 200 KiB of gzip holding a 256 MiB PAX header: tarfile reads headers whole, so before
    # the cap this took 600 MB of memory and then succeeded.
    data = pax_bomb(256 * MiB)
    assert len(data) < 300 * 1024
    with peak_below(8 * MiB), sandbox() as out, pytest.raises(ArchiveError, match="headers exceed"):
        extract_tgz(data, out, max_total=512 * MiB)
    with peak_below(8 * MiB), pytest.raises(ChartError, match="headers exceed"):
        read_package(data)


def test_header_cap_lets_long_names_through() -> None:
    name = "c/" + "d" * 200 + "/" + "n" * (MAX_HEADER_DATA // 4)
    data = tgz([Member("c/Chart.yaml", REG, b"name: c"), Member(name, REG, b"x")])
    files = read_package(data)
    assert sorted(files) == ["Chart.yaml", name.removeprefix("c/")]


def test_content_bomb_stops_at_the_total_cap() -> None:
    data = content_bomb(64 * MiB)
    assert len(data) < MiB
    with peak_below(8 * MiB), sandbox() as out:
        with pytest.raises(ArchiveError, match="maximum size of 4194304 bytes"):
            extract_tgz(data, out, max_total=4 * MiB)
        assert list(out.iterdir()) == []
    with peak_below(8 * MiB), pytest.raises(ChartError, match="maximum file size"):
        read_package(data)


def test_skipped_members_count_towards_the_cap() -> None:
    # A member of a type that is never extracted is still inflated to be skipped.
    raw = bytearray(content_bomb(8 * MiB, "c/skipped"))
    data = tar_bytes([])  # ensure the builder works before patching the type below
    assert data
    with sandbox() as out, pytest.raises(ArchiveError, match="maximum size"):
        extract_tgz(_with_type(bytes(raw), b"Z"), out, max_total=MiB)


def _with_type(data: bytes, kind: bytes) -> bytes:
    import gzip

    tar = bytearray(gzip.decompress(data))
    info = tarfile.TarInfo.frombuf(bytes(tar[:512]), "utf-8", "surrogateescape")
    info.type = kind
    tar[:512] = info.tobuf(tarfile.USTAR_FORMAT)
    return gzip.compress(bytes(tar), mtime=0)


def test_entry_count_is_capped() -> None:
    data = many_entries(50)
    with sandbox() as out, pytest.raises(ArchiveError, match="more than 20 entries"):
        extract_tgz(data, out, max_total=MiB, max_entries=20)
    with sandbox() as out:
        extract_tgz(data, out, max_total=MiB, max_entries=50)
        assert len(list((out / "c").iterdir())) == 50


def test_many_entries_keep_memory_flat() -> None:
    # tarfile keeps every member it has read unless told not to; a stream needs none.
    # 5,000 entries of one directory: keeping the members took 2 MB, not keeping them 0.1 MB.
    data = many_entries(5_000, DIR)
    with peak_below(MiB), sandbox() as out:
        extract_tgz(data, out, max_total=MiB)
