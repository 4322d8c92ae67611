"""The OOM watcher's decisions: reading cgroup memory files, finding them, the threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from internal.memory.cgroup import (
    MemoryFileError,
    WatchPlan,
    discover,
    format_size,
    near_oom,
    parse_bytes,
    plan,
    read_bytes,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0\n", 0),
        ("1048576\n", 1048576),
        ("  536870912 ", 536870912),
        ("9223372036854771712", 9223372036854771712),
    ],
)
def test_a_number_of_bytes_is_read(text: str, expected: int) -> None:
    assert parse_bytes(text, "memory.current") == expected


def test_max_says_there_is_no_limit() -> None:
    with pytest.raises(MemoryFileError) as err:
        parse_bytes("max\n", "/sys/fs/cgroup/memory.max")
    assert (
        str(err.value)
        == "/sys/fs/cgroup/memory.max says max: the cgroup has no memory limit to watch"
    )


@pytest.mark.parametrize("text", ["", "\n", "-1", "12.5", "1e9", "12 MiB", "١٢", "0x10"])
def test_anything_else_is_refused_by_name(text: str) -> None:
    with pytest.raises(MemoryFileError) as err:
        parse_bytes(text, "/f")
    assert str(err.value) == f"/f does not hold a number of bytes: {text.strip()!r}"


def test_a_long_bad_value_is_cut_short() -> None:
    with pytest.raises(MemoryFileError) as err:
        parse_bytes("x" * 100, "/f")
    assert str(err.value) == f"/f does not hold a number of bytes: {'x' * 40 + '…'!r}"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MemoryFileError) as err:
        read_bytes(tmp_path / "memory.current")
    assert str(err.value) == f"{tmp_path / 'memory.current'} does not exist"


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MemoryFileError) as err:
        read_bytes(tmp_path)  # a directory
    assert str(err.value).startswith(f"cannot read {tmp_path}: ")


def test_a_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text("4096\n")
    assert read_bytes(tmp_path / "memory.current") == 4096


@pytest.mark.parametrize(
    ("current", "limit", "threshold", "near"),
    [
        (94, 100, 95, False),
        (95, 100, 95, True),
        (96, 100, 95, True),
        (0, 100, 1, False),
        (1, 100, 1, True),
        (100, 100, 100, True),
        (99, 100, 100, False),
        (200, 100, 100, True),
        # Exact at the boundary: 95% of 3 bytes is 2.85, so 2 is below and 3 at or above.
        (2, 3, 95, False),
        (3, 3, 95, True),
        # 95% of 1 GiB is 1020054732.8 bytes.
        (1020054733, 1073741824, 95, True),
        (1020054732, 1073741824, 95, False),
    ],
)
def test_the_threshold_is_percent_of_the_limit(
    current: int, limit: int, threshold: int, near: bool
) -> None:
    assert near_oom(current, limit, threshold) is near


def _cgroup(root: Path, *files: str) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("1\n")
    return root


def test_v2_files_are_found_before_v1(tmp_path: Path) -> None:
    root = _cgroup(
        tmp_path,
        "memory.max",
        "memory.current",
        "memory/memory.limit_in_bytes",
        "memory/memory.usage_in_bytes",
    )
    assert discover("", "", root) == (root / "memory.max", root / "memory.current")


def test_v1_files_are_found_without_v2(tmp_path: Path) -> None:
    root = _cgroup(tmp_path, "memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")
    assert discover("", "", root) == (
        root / "memory/memory.limit_in_bytes",
        root / "memory/memory.usage_in_bytes",
    )


def test_given_paths_win(tmp_path: Path) -> None:
    root = _cgroup(tmp_path, "memory.max", "memory.current")
    assert discover("/a/max", "", root) == (Path("/a/max"), root / "memory.current")
    assert discover("", "/a/cur", root) == (root / "memory.max", Path("/a/cur"))


def test_what_cannot_be_found_is_named(tmp_path: Path) -> None:
    with pytest.raises(MemoryFileError) as none:
        discover("", "", tmp_path)
    assert str(none.value) == (
        f"no cgroup memory files under {tmp_path}: set --oom-watch-max-memory-path and "
        "--oom-watch-current-memory-path"
    )
    _cgroup(tmp_path, "memory.current")
    with pytest.raises(MemoryFileError) as no_max:
        discover("", "", tmp_path)
    assert str(no_max.value) == (
        f"no cgroup memory limit file under {tmp_path}: set --oom-watch-max-memory-path"
    )
    with pytest.raises(MemoryFileError) as no_current:
        discover("", "", _cgroup(tmp_path / "other", "memory.max"))
    assert str(no_current.value) == (
        f"no cgroup memory usage file under {tmp_path / 'other'}: set "
        "--oom-watch-current-memory-path"
    )


def test_a_plan_reads_the_limit_once(tmp_path: Path) -> None:
    (tmp_path / "max").write_text("1073741824\n")
    (tmp_path / "current").write_text("garbage")  # read on each check, not now
    watch = plan(str(tmp_path / "max"), str(tmp_path / "current"), 90, 0.5, tmp_path)
    assert watch == WatchPlan(1073741824, tmp_path / "current", 90, 0.5)


def test_a_plan_refuses_what_flux_refuses(tmp_path: Path) -> None:
    (tmp_path / "max").write_text("max\n")
    (tmp_path / "zero").write_text("0\n")
    (tmp_path / "current").write_text("1\n")
    cur = str(tmp_path / "current")
    cases = {
        (str(tmp_path / "max"), cur, 95, 0.5): f"{tmp_path / 'max'} says max: the cgroup has no "
        "memory limit to watch",
        (str(tmp_path / "zero"), cur, 95, 0.5): f"{tmp_path / 'zero'} says 0: no memory limit to "
        "measure usage against",
        (str(tmp_path / "zero"), str(tmp_path / "gone"), 95, 0.5): "the memory usage file "
        f"{tmp_path / 'gone'} does not exist",
        (str(tmp_path / "gone"), cur, 95, 0.5): f"{tmp_path / 'gone'} does not exist",
        (str(tmp_path / "zero"), cur, 0, 0.5): "--oom-watch-memory-threshold must be between 1 "
        "and 100 (percent), not 0",
        (str(tmp_path / "zero"), cur, 101, 0.5): "--oom-watch-memory-threshold must be between 1 "
        "and 100 (percent), not 101",
        (str(tmp_path / "zero"), cur, 95, 0.049): "--oom-watch-interval must be at least 50ms, "
        "not 0.049s",
    }
    for args, message in cases.items():
        with pytest.raises(MemoryFileError) as err:
            plan(*args, root=tmp_path)
        assert str(err.value) == message, args


def test_the_edges_of_the_settings_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "max").write_text("100\n")
    (tmp_path / "current").write_text("1\n")
    for threshold, interval in ((1, 0.05), (100, 3600.0)):
        assert (
            plan(str(tmp_path / "max"), str(tmp_path / "current"), threshold, interval).limit == 100
        )


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "-"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1048576, "1.0 MiB"),
        (1073741824, "1.0 GiB"),
        (1020054732, "972.8 MiB"),
        (2**60, "1.0 EiB"),
    ],
)
def test_sizes_are_shown_in_binary_units(size: int, shown: str) -> None:
    assert format_size(size) == shown
