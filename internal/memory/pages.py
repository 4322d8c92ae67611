"""Code pages that only start-up used, given back once the controller has started.

Loading the engine library runs the Go runtime's and every package's `init`, and each page
fault in a file mapping makes the pages around it resident too (read-around and fault-around):
about 27 MiB of the library's code and tables are mapped before the first call, most of which
never runs again, and the Python extensions' imports do the same on a smaller scale.

`release_clean_pages` unmaps the process's clean, read-only file pages (`MADV_DONTNEED`). They
stay in the page cache, and a page used again is mapped back by a minor fault from it, as after
the kernel's own reclaim of clean pages under memory pressure. A mapping with any private
(copied) page, such as a library's relocated read-only data, is left alone: its contents are
not the file's.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from internal.memory.libc import libc

MADV_DONTNEED = 4

_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+ (\d+)\s*(.*)$")


@dataclass(frozen=True)
class Mapping:
    """One mapping of /proc/self/smaps, with what decides whether it can be released."""

    start: int
    end: int
    perms: str
    inode: int
    path: str
    rss_kib: int
    anonymous_kib: int

    @property
    def clean(self) -> bool:
        """Private, not writable, of a file, and no page of it copied: the file is its
        contents, so unmapping it loses nothing."""
        return (
            self.perms[1] == "-"
            and self.perms[3] == "p"
            and self.inode != 0
            and self.path.startswith("/")
            and self.anonymous_kib == 0
        )


def parse_smaps(text: str) -> list[Mapping]:
    """The mappings of an smaps text, each with its Rss and Anonymous sizes."""
    found: list[Mapping] = []
    fields: dict[str, int] = {}
    header: re.Match[str] | None = None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match is None:
            key, _, value = line.partition(":")
            if value.endswith(" kB"):
                fields[key] = int(value[:-3])
            continue
        if header is not None:
            found.append(_mapping(header, fields))
        header, fields = match, {}
    if header is not None:
        found.append(_mapping(header, fields))
    return found


def _mapping(header: re.Match[str], fields: dict[str, int]) -> Mapping:
    start, end, perms, inode, path = header.groups()
    return Mapping(
        start=int(start, 16),
        end=int(end, 16),
        perms=perms,
        inode=int(inode),
        path=path,
        rss_kib=fields.get("Rss", 0),
        anonymous_kib=fields.get("Anonymous", 1),
    )


def releasable(mappings: list[Mapping]) -> list[Mapping]:
    """The clean mappings that have pages resident."""
    return [m for m in mappings if m.clean and m.rss_kib > 0]


def _madvise() -> Callable[[int, int, int], int] | None:
    madvise = getattr(libc(), "madvise", None)
    if madvise is None:
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    call: Callable[[int, int, int], int] = madvise
    return call


def release_clean_pages(smaps: Path = Path("/proc/self/smaps")) -> int:
    """Unmap the process's clean file pages; the KiB that were resident in what was released.
    0 where there is no smaps or no madvise (not Linux)."""
    madvise = _madvise()
    if madvise is None:
        return 0
    try:
        text = smaps.read_text()
    except OSError:
        return 0
    released = 0
    for mapping in releasable(parse_smaps(text)):
        if madvise(mapping.start, mapping.end - mapping.start, MADV_DONTNEED) == 0:
            released += mapping.rss_kib
    return released
