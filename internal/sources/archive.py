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


class ArchiveError(ValueError):
    """The archive is unsafe, too large or not an archive."""


def extract_tgz(
    data: bytes | Path, dest: Path, *, max_total: int, max_file: int | None = None
) -> int:
    """Extract into `dest` (which must exist); returns the bytes written."""
    dest = dest.resolve()
    total = 0
    fileobj = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    try:
        with gzip.GzipFile(fileobj=fileobj) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            for member in tar:
                name = member.name
                if name.startswith("/") or "\x00" in name:
                    raise ArchiveError(f"unsafe path in archive: {name!r}")
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
                    link = posixpath.normpath(
                        posixpath.join(posixpath.dirname(norm), member.linkname)
                    )
                    if member.linkname.startswith("/") or link == ".." or link.startswith("../"):
                        raise ArchiveError(f"symlink {name!r} points outside the archive")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                    continue
                if not member.isfile():
                    continue  # hard links, devices, fifos: never extracted
                if max_file is not None and member.size > max_file:
                    raise ArchiveError(
                        f"file {name!r} is {member.size} bytes, "
                        f"over the maximum file size of {max_file} bytes"
                    )
                total += member.size
                if total > max_total:
                    raise ArchiveError(
                        f"archive exceeds the maximum size of {max_total} bytes when extracted"
                    )
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
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise ArchiveError(f"invalid archive: {exc}") from None
    finally:
        fileobj.close()
    return total
