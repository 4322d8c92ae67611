"""The OOM watcher's decisions, as Flux's helm-controller (internal/oomwatch) makes them:
where the cgroup's limit and usage files are, what they say, and when usage is near the limit.

The limit is read once, when the watcher starts; the usage on every tick. cgroup v2's
`memory.max` is looked for before cgroup v1's `memory/memory.limit_in_bytes` (and
`memory.current` before `memory/memory.usage_in_bytes`). A limit of `max` (none) stops the
watcher from starting: there is nothing to be near, and Flux refuses it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V2_MAX = "memory.max"
V2_CURRENT = "memory.current"
V1_MAX = "memory/memory.limit_in_bytes"
V1_CURRENT = "memory/memory.usage_in_bytes"
MIN_INTERVAL = 0.05
"""Seconds: Flux refuses an --oom-watch-interval under 50ms."""


class MemoryFileError(Exception):
    """A memory file that is missing, unreadable or does not hold a number of bytes."""


@dataclass(frozen=True)
class WatchPlan:
    """What the watcher checks: usage from `current_path` against `limit` bytes."""

    limit: int
    current_path: Path
    threshold: int
    interval: float


def parse_bytes(text: str, path: Path | str) -> int:
    """The number of bytes a cgroup memory file holds (one decimal number and a newline)."""
    value = text.strip()
    if value == "max":
        raise MemoryFileError(f"{path} says max: the cgroup has no memory limit to watch")
    if not value.isdecimal() or not value.isascii():
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise MemoryFileError(f"{path} does not hold a number of bytes: {shown!r}")
    return int(value)


def read_bytes(path: Path) -> int:
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        raise MemoryFileError(f"{path} does not exist") from None
    except OSError as exc:
        raise MemoryFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_bytes(text, path)


def _first_present(root: Path, *names: str) -> Path | None:
    for name in names:
        candidate = root / name
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def discover(max_path: str, current_path: str, root: Path = CGROUP_ROOT) -> tuple[Path, Path]:
    """The limit and usage files: the given ones, else cgroup v2's, else cgroup v1's."""
    found_max = Path(max_path) if max_path else _first_present(root, V2_MAX, V1_MAX)
    found_current = (
        Path(current_path) if current_path else _first_present(root, V2_CURRENT, V1_CURRENT)
    )
    if found_max is None and found_current is None:
        raise MemoryFileError(
            f"no cgroup memory files under {root}: set --oom-watch-max-memory-path and "
            "--oom-watch-current-memory-path"
        )
    if found_max is None:
        raise MemoryFileError(
            f"no cgroup memory limit file under {root}: set --oom-watch-max-memory-path"
        )
    if found_current is None:
        raise MemoryFileError(
            f"no cgroup memory usage file under {root}: set --oom-watch-current-memory-path"
        )
    return found_max, found_current


def validate(threshold: int, interval: float) -> None:
    if not 1 <= threshold <= 100:
        raise MemoryFileError(
            f"--oom-watch-memory-threshold must be between 1 and 100 (percent), not {threshold}"
        )
    if interval < MIN_INTERVAL:
        raise MemoryFileError(f"--oom-watch-interval must be at least 50ms, not {interval}s")


def plan(
    max_path: str, current_path: str, threshold: int, interval: float, root: Path = CGROUP_ROOT
) -> WatchPlan:
    """Check the settings, find the files and read the limit; any failure is a MemoryFileError
    that says which file or flag is wrong."""
    validate(threshold, interval)
    limit_file, current_file = discover(max_path, current_path, root)
    if not (current_file.exists() or current_file.is_symlink()):
        raise MemoryFileError(f"the memory usage file {current_file} does not exist")
    limit = read_bytes(limit_file)
    if limit == 0:
        raise MemoryFileError(f"{limit_file} says 0: no memory limit to measure usage against")
    return WatchPlan(limit, current_file, threshold, interval)


def near_oom(current: int, limit: int, threshold: int) -> bool:
    """Usage at or above `threshold` percent of the limit."""
    return current * 100 >= threshold * limit


def percent(current: int, limit: int) -> float:
    return current / limit * 100


def format_size(size: int) -> str:
    """Bytes for a log line: `512 B`, `1.5 MiB`, `2.0 GiB` (`-` for none)."""
    if size <= 0:
        return "-"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in "KMGTPE":
        value /= 1024
        if value < 1024 or unit == "E":
            return f"{value:.1f} {unit}iB"
    raise AssertionError("unreachable")
