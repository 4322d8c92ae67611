"""Tar and gzip builders for the archive fuzz tests: members of every kind, with the names
and link targets that break extractors."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Member:
    name: str
    kind: bytes  # a tarfile type
    content: bytes = b""
    linkname: str = ""


COMPONENTS = [
    "c",
    "templates",
    "..",
    ".",
    "",
    "a",
    "b",
    "x",
    "/",
    "\\",
    "a\x00b",
    "ü",
    "Chart.yaml",
]
LINKS = ["..", "../..", "/etc", "a", "x/../..", "x/..", ".", "c", "../c/a", "c/x", "b/../../y"]
KINDS = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, b"Z"]

names = st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4).map("/".join)
members = st.builds(
    Member,
    name=names,
    kind=st.sampled_from(KINDS),
    content=st.binary(max_size=64),
    linkname=st.one_of(st.sampled_from(LINKS), names),
)


def tar_bytes(items: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for m in items:
            info = tarfile.TarInfo(m.name)
            info.type = m.kind
            info.linkname = m.linkname
            info.mode = 0o755
            data = m.content if m.kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def tgz(items: list[Member]) -> bytes:
    return gzip.compress(tar_bytes(items), mtime=0)


def pax_bomb(header_bytes: int) -> bytes:
    """One empty file whose PAX header holds `header_bytes` of comment: small once gzipped."""
    raw = io.BytesIO()
    info = tarfile.TarInfo("c/Chart.yaml")
    info.pax_headers = {"comment": "x" * header_bytes}
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    return gzip.compress(raw.getvalue(), 9, mtime=0)


def content_bomb(size: int, name: str = "c/big") -> bytes:
    """One file of `size` zero bytes, streamed into the gzip so the test never holds it."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        header = tarfile.TarInfo(name)
        header.size = size
        gz.write(header.tobuf(tarfile.USTAR_FORMAT))
        block = bytes(1 << 20)
        left = size
        while left:
            n = min(left, len(block))
            gz.write(block[:n])
            left -= n
        gz.write(bytes(-size % 512) + bytes(1024))
    return out.getvalue()


def many_entries(count: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    return tgz([Member(f"c/f{i}" if kind == tarfile.REGTYPE else "c", kind) for i in range(count)])
