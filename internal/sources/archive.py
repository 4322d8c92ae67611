"""Safe extraction of source artifacts (tar.gz): no path leaves the destination, links are
dropped unless they stay inside, and sizes are capped while reading, so a decompression bomb
stops at the cap."""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
from pathlib import Path

MAX_HEADER_DATA = 1 << 20
"""Bytes a member's headers may take (PAX records, long names), as Go's archive/tar bounds
them: tarfile reads them whole into memory, so a small gzip of one huge PAX header would
otherwise inflate to any size before a content cap is ever checked."""

MAX_ENTRIES = 1_000_000
"""Members an archive may hold, directories and skipped ones included."""


class ArchiveError(ValueError):
    """The archive is unsafe, too large or not an archive."""


class BoundedStream:
    """The decompressed tar stream, readable only up to a limit that `allow` moves past each
    member's content: what lies between members (headers) is bounded by MAX_HEADER_DATA."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._read = 0
        self._limit = MAX_HEADER_DATA + 2 * tarfile.BLOCKSIZE

    def allow(self, size: int) -> None:
        """The current member has `size` bytes of content: allow them and the next headers."""
        padded = -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        self._limit = self._read + padded + MAX_HEADER_DATA + 2 * tarfile.BLOCKSIZE

    def read(self, size: int = -1) -> bytes:
        room = self._limit - self._read
        if room <= 0:
            raise ArchiveError(
                f"archive headers exceed the maximum of {MAX_HEADER_DATA} bytes per member"
            )
        chunk = self._raw.read(room if size is None or size < 0 else min(size, room))
        self._read += len(chunk)
        return chunk


def _safe_link(dest: Path, norm: str, linkname: str, name: str) -> None:
    """Refuse a symlink at `norm` whose target leaves `dest`, as written or as it resolves
    through links already extracted."""
    if "\x00" in linkname:
        raise ArchiveError(f"unsafe link target in archive: {name!r}")
    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(norm), linkname))
    real = ((dest / norm).parent.resolve() / linkname).resolve()
    if (
        linkname.startswith("/")
        or lexical == ".."
        or lexical.startswith("../")
        or not real.is_relative_to(dest)
    ):
        raise ArchiveError(f"symlink {name!r} points outside the archive")


def _resolves_inside(path: Path, dest: Path) -> bool:
    try:
        return path.resolve().is_relative_to(dest)
    except (RuntimeError, OSError):  # a symlink loop: it leads nowhere, so not inside
        return False


def _drop_escaping_links(dest: Path) -> list[str]:
    """Remove the symlinks that no longer resolve inside `dest` (a later link can change where
    an earlier one's `..` leads); their paths."""
    dropped = []
    for root, dirs, files in os.walk(dest):
        for entry in (*dirs, *files):
            path = Path(root) / entry
            if path.is_symlink() and not _resolves_inside(path, dest):
                path.unlink()
                dropped.append(path.relative_to(dest).as_posix())
    return dropped


def extract_tgz(
    data: bytes | Path,
    dest: Path,
    *,
    max_total: int,
    max_file: int | None = None,
    max_entries: int = MAX_ENTRIES,
) -> int:
    """Extract into `dest` (which must exist); returns the bytes of content it held."""
    dest = dest.resolve()
    total = 0
    count = 0
    fileobj = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    try:
        with gzip.GzipFile(fileobj=fileobj) as gz:
            stream = BoundedStream(gz)
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    tar.members.clear()  # a stream needs no index; it would grow per member
                    stream.allow(member.size)
                    count += 1
                    if count > max_entries:
                        raise ArchiveError(f"archive holds more than {max_entries} entries")
                    name = member.name
                    if name.startswith("/") or "\x00" in name:
                        raise ArchiveError(f"unsafe path in archive: {name!r}")
                    if max_file is not None and member.size > max_file:
                        raise ArchiveError(
                            f"file {name!r} is {member.size} bytes, "
                            f"over the maximum file size of {max_file} bytes"
                        )
                    # Every member's size counts: a skipped one is still inflated to skip it.
                    total += member.size
                    if total > max_total:
                        raise ArchiveError(
                            f"archive exceeds the maximum size of {max_total} bytes when extracted"
                        )
                    norm = posixpath.normpath(name)
                    if norm in (".", ""):
                        continue
                    if norm == ".." or norm.startswith("../"):
                        raise ArchiveError(f"unsafe path in archive: {name!r}")
                    target = dest / norm
                    if not target.parent.resolve().is_relative_to(dest):
                        raise ArchiveError(f"unsafe path in archive: {name!r}")
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if member.issym():
                        _safe_link(dest, norm, member.linkname, name)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.symlink(member.linkname, target)
                        continue
                    if not member.isfile():
                        continue  # hard links, devices, fifos: never extracted
                    if target.is_symlink():
                        raise ArchiveError(f"archive entry {name!r} would write through a symlink")
                    src = tar.extractfile(member)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as out:
                        remaining = member.size
                        while remaining and src is not None:
                            chunk = src.read(min(remaining, 1 << 20))
                            if not chunk:
                                break
                            out.write(chunk)
                            remaining -= len(chunk)
                    if member.mode & 0o111:
                        target.chmod(0o755)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, RuntimeError) as exc:
        # RuntimeError: Path.resolve() on a symlink loop (OSError from Python 3.13).
        _drop_escaping_links(dest)
        raise ArchiveError(f"invalid archive: {exc}") from None
    except ArchiveError:
        _drop_escaping_links(dest)
        raise
    finally:
        fileobj.close()
    if dropped := _drop_escaping_links(dest):
        raise ArchiveError(f"symlink {dropped[0]!r} points outside the archive")
    return total
