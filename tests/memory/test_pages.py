"""Start-up's code pages given back: only clean, private, read-only file pages are released, the
contents read afterwards are the same, and a mapping with a copied page keeps it."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path

from hack.testkit.paths import REPO_ROOT
from internal.memory.pages import Mapping, parse_smaps, releasable

SMAPS = """\
55d0c0000000-55d0c0021000 r--p 00000000 fd:01 131 /usr/bin/python3.11
Rss:                 132 kB
Anonymous:             0 kB
VmFlags: rd mr mw me sd
7f0000000000-7f0001e00000 r-xp 0001c000 fd:01 777 /cache/libhelmward.so
Rss:               17872 kB
Anonymous:             0 kB
7f0002000000-7f0002800000 r--p 037b7000 fd:01 777 /cache/libhelmward.so
Rss:                8156 kB
Anonymous:          6504 kB
7f0002800000-7f0002900000 rw-p 03fc5000 fd:01 777 /cache/libhelmward.so
Rss:                 672 kB
Anonymous:           316 kB
7f0003000000-7f0003100000 r--s 00000000 fd:01 901 /dev/shm/segment
Rss:                  64 kB
Anonymous:             0 kB
7f0004000000-7f0004100000 r-xp 00000000 fd:01 902 /usr/lib/cold.so
Rss:                   0 kB
Anonymous:             0 kB
7f0005000000-7f0005021000 rw-p 00000000 00:00 0 [heap]
Rss:                 132 kB
Anonymous:           132 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Rss:                   8 kB
Anonymous:             0 kB
"""


def test_only_clean_private_read_only_file_pages_are_releasable() -> None:
    mappings = parse_smaps(SMAPS)
    assert [(m.path, m.perms, m.rss_kib, m.anonymous_kib) for m in mappings] == [
        ("/usr/bin/python3.11", "r--p", 132, 0),
        ("/cache/libhelmward.so", "r-xp", 17872, 0),
        ("/cache/libhelmward.so", "r--p", 8156, 6504),
        ("/cache/libhelmward.so", "rw-p", 672, 316),
        ("/dev/shm/segment", "r--s", 64, 0),
        ("/usr/lib/cold.so", "r-xp", 0, 0),
        ("[heap]", "rw-p", 132, 132),
        ("[vdso]", "r-xp", 8, 0),
    ]
    assert [(m.start, m.end) for m in releasable(mappings)] == [
        (0x55D0C0000000, 0x55D0C0021000),
        (0x7F0000000000, 0x7F0001E00000),
    ]


def test_a_mapping_whose_anonymous_size_is_unknown_is_not_clean() -> None:
    (mapping,) = parse_smaps("7f00-7f01 r-xp 00000000 fd:01 5 /lib/x.so\nRss: 4 kB\n")
    assert mapping == Mapping(0x7F00, 0x7F01, "r-xp", 5, "/lib/x.so", 4, 1)
    assert releasable([mapping]) == []


PROBE = """
import ctypes, json, mmap, sys
from pathlib import Path
from internal.memory.pages import parse_smaps, release_clean_pages

PAGE = mmap.PAGESIZE
data = bytes(range(256)) * (64 * PAGE // 256)
Path(sys.argv[1]).write_bytes(data)
with open(sys.argv[1], "rb") as f:
    clean = mmap.mmap(f.fileno(), len(data), mmap.MAP_PRIVATE, mmap.PROT_READ)
with open(sys.argv[1], "r+b") as f:
    copied = mmap.mmap(f.fileno(), len(data), mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
copied[:4] = b"mine"
libc = ctypes.CDLL(None)
address = ctypes.addressof(ctypes.c_char.from_buffer(copied))
assert libc.mprotect(ctypes.c_void_p(address), ctypes.c_size_t(len(data)), 1) == 0  # PROT_READ
assert clean[:] == data and copied[4:] == data[4:]

def rss(name):
    found = [m for m in parse_smaps(Path("/proc/self/smaps").read_text()) if m.path == name]
    return sorted((m.perms, m.rss_kib, m.anonymous_kib) for m in found)

before = rss(sys.argv[1])
released = release_clean_pages()
after = rss(sys.argv[1])
print(json.dumps({
    "before": before, "after": after, "released": released,
    "same": clean[:] == data, "kept": copied[:4] == b"mine" and copied[4:] == data[4:],
    "after_read": rss(sys.argv[1]),
}))
"""


def test_released_pages_read_back_the_same_and_a_copied_page_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "pages.bin"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got = json.loads(out)
    kib = 64 * mmap.PAGESIZE // 1024
    page = mmap.PAGESIZE // 1024
    assert got["before"] == [["r--p", kib, 0], ["r--p", kib, page]]
    assert got["after"] == [["r--p", 0, 0], ["r--p", kib, page]]
    assert got["released"] > kib
    assert got["same"] is True
    assert got["kept"] is True
    assert got["after_read"] == [["r--p", kib, 0], ["r--p", kib, page]]


def test_the_engine_answers_after_its_start_up_pages_are_released() -> None:
    probe = (
        "import json\n"
        "from internal.helm import library\n"
        "from internal.memory.pages import release_clean_pages\n"
        "lib = library.load()\n"
        "released = release_clean_pages()\n"
        "print(json.dumps({'released': released, 'abi': lib.version()['abi']}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    got = json.loads(out)
    assert got["abi"] == 1
    assert got["released"] > 10 * 1024  # the library's init alone maps more than this
