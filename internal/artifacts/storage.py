"""Where source artifacts live on disk: `<kind>/<namespace>/<name>/<file>` under one root, as
source-controller lays them out, written atomically and garbage collected by age and count.

Everything here blocks; async callers run it in a thread.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DIGEST_ALGORITHM = "sha256"
_CHUNK = 1 << 20


class StorageError(Exception):
    """A storage operation failed; the message names the path and the cause."""


@dataclass(frozen=True)
class Stored:
    """What a write produced: the path relative to the root, its digest and size."""

    path: str
    digest: str
    size: int


def artifact_dir(kind: str, namespace: str, name: str) -> str:
    """The directory of an object's artifacts, relative to the storage root."""
    return f"{kind.lower()}/{namespace}/{name}"


def artifact_path(kind: str, namespace: str, name: str, filename: str) -> str:
    """The path of one artifact file, relative to the storage root."""
    if "/" in filename or filename in ("", ".", ".."):
        raise StorageError(f"invalid artifact file name {filename!r}")
    return f"{artifact_dir(kind, namespace, name)}/{filename}"


def file_digest(path: Path) -> str:
    """`sha256:<hex>` of a file's content."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"{DIGEST_ALGORITHM}:{h.hexdigest()}"


def bytes_digest(data: bytes) -> str:
    return f"{DIGEST_ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


ArchiveFilter = Callable[[str, bool], bool]
"""Called with a path relative to the archived directory and whether it is a directory;
True excludes it (and, for a directory, everything below)."""


class Storage:
    """The artifact store rooted at `root`, advertised to consumers at `http://<hostname>/`."""

    def __init__(
        self,
        root: Path,
        hostname: str,
        *,
        retention_records: int = 2,
        retention_ttl: float = 60.0,
    ) -> None:
        self.root = root.resolve()
        self.hostname = hostname
        self.retention_records = retention_records
        self.retention_ttl = retention_ttl
        self.root.mkdir(parents=True, exist_ok=True)

    def local_path(self, rel: str) -> Path:
        """The file for `rel`; refuses anything that would leave the root."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"path {rel!r} is outside the storage root")
        return path

    def url(self, rel: str) -> str:
        return f"http://{self.hostname}/{rel}"

    def exists(self, rel: str) -> bool:
        return self.local_path(rel).is_file()

    def write_bytes(self, rel: str, data: bytes) -> Stored:
        """Write `data` to `rel` atomically: a temporary file in the same directory, fsynced,
        then renamed over the target, so readers never see half a file."""
        return self._write(rel, lambda f: f.write(data))

    def write_file(self, rel: str, source: Path) -> Stored:
        """Copy `source` to `rel` atomically."""

        def copy(f: io.BufferedWriter) -> None:
            with source.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    f.write(chunk)

        return self._write(rel, copy)

    def archive(self, rel: str, directory: Path, exclude: ArchiveFilter | None = None) -> Stored:
        """A reproducible tar.gz of the regular files under `directory`: sorted names, owner
        and times zeroed, no symlinks or special files, so equal content gives an equal
        digest."""
        if not directory.is_dir():
            raise StorageError(f"invalid directory to archive: {directory}")

        def write(f: io.BufferedWriter) -> None:
            with (
                gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for relpath, path, is_dir in _walk(directory, exclude):
                    info = tarfile.TarInfo(relpath)
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if is_dir:
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                        continue
                    st = path.stat()
                    info.size = st.st_size
                    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
                    with path.open("rb") as src:
                        tar.addfile(info, src)

        return self._write(rel, write)

    def symlink(self, rel: str, linkname: str) -> str:
        """Point `<dir of rel>/<linkname>` at `rel`, atomically; returns the link's URL."""
        target = self.local_path(rel)
        link = target.parent / linkname
        tmp = target.parent / f".{linkname}.{os.getpid()}.tmp"
        try:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target.name)
            tmp.replace(link)
        except OSError as exc:
            raise StorageError(f"symlink {link} -> {target.name}: {exc}") from exc
        return self.url(link.relative_to(self.root).as_posix())

    def garbage_collect(
        self, directory: str, keep: str | None, *, now: float | None = None
    ) -> list[str]:
        """Remove old artifact files of one object. The current artifact `keep` always stays;
        of the others, the newest `retention_records - 1` stay while younger than the TTL.
        Returns the removed paths, relative to the root."""
        base = self.local_path(directory)
        if not base.is_dir():
            return []
        files = [p for p in base.iterdir() if p.is_file() and not p.is_symlink()]
        garbage = select_garbage(
            [(p.relative_to(self.root).as_posix(), p.stat().st_mtime) for p in files],
            keep=keep,
            records=self.retention_records,
            ttl=self.retention_ttl,
            now=time.time() if now is None else now,
        )
        for rel in garbage:
            self.local_path(rel).unlink(missing_ok=True)
        # A symlink whose target went away is garbage too.
        for p in base.iterdir():
            if p.is_symlink() and not p.exists():
                p.unlink(missing_ok=True)
        return garbage

    def remove_all(self, directory: str) -> None:
        """Remove every artifact of one object (on deletion)."""
        base = self.local_path(directory)
        if not base.is_dir():
            return
        for p in base.iterdir():
            p.unlink(missing_ok=True)
        base.rmdir()

    def _write(self, rel: str, fill: Callable[[io.BufferedWriter], object]) -> Stored:
        target = self.local_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw)
                fill(hashing)  # type: ignore[arg-type]
                hashing.flush()
                os.fsync(raw.fileno())
            tmp.chmod(0o644)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Stored(
            path=rel, digest=f"{DIGEST_ALGORITHM}:{hashing.hash.hexdigest()}", size=hashing.size
        )


class _HashingWriter(io.RawIOBase):
    """Writes through to a file while hashing and counting, so the digest costs no re-read."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.hash.update(b)
        self.size += len(b)
        return self.sink.write(b)

    def flush(self) -> None:
        self.sink.flush()


def select_garbage(
    files: Iterable[tuple[str, float]], *, keep: str | None, records: int, ttl: float, now: float
) -> list[str]:
    """Which of `(path, mtime)` to delete: all but `keep` and the newest `records - 1` others,
    and of those kept, the ones older than `ttl` seconds. Pure, for table tests."""
    others = sorted((f for f in files if f[0] != keep), key=lambda f: f[1], reverse=True)
    allowed = max(records - 1, 0)
    garbage: list[str] = []
    for index, (path, mtime) in enumerate(others):
        if index >= allowed or now - mtime > ttl:
            garbage.append(path)
    return sorted(garbage)


def _walk(directory: Path, exclude: ArchiveFilter | None) -> Iterable[tuple[str, Path, bool]]:
    """(relative path, path, is_dir) of directories and regular files, sorted, depth first."""
    stack = [directory]
    while stack:
        current = stack.pop()
        entries = sorted(os.scandir(current), key=lambda e: e.name)
        subdirs: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            relpath = path.relative_to(directory).as_posix()
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and not entry.is_file(follow_symlinks=False):
                continue
            if exclude is not None and exclude(relpath, is_dir):
                continue
            yield relpath, path, is_dir
            if is_dir:
                subdirs.append(path)
        stack.extend(reversed(subdirs))
