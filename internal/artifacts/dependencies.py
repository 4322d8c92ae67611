"""Built chart dependencies kept on disk next to the artifacts: `<root>/dependencies/<namespace>/
<key>/` holds the `charts/*` files and the lock file of one build, so a restarted controller or
another HelmChart of the same chart reuses them without building or downloading.

A set is written to a temporary directory and renamed into place, so a reader sees all of it or
none. Each use touches the set's directory; per namespace the KEEP most recently used sets stay
and older ones are removed on the next write."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

DIRECTORY = "dependencies"
KEEP = 32
"""Sets kept per namespace, the most recently used first."""
STALE_TEMP_SECONDS = 3600.0
_MANIFEST = "files.json"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_FILE = re.compile(r"^(charts/)?[A-Za-z0-9._+-]+$")


class DependencyCacheError(Exception):
    pass


class DependencyCache:
    def __init__(self, storage_root: Path, keep: int = KEEP) -> None:
        self.base = storage_root / DIRECTORY
        self.keep = keep

    def _dir(self, namespace: str, key: str) -> Path:
        if not _NAMESPACE.match(namespace) or not _KEY.match(key):
            raise DependencyCacheError(f"invalid dependency set {namespace!r}/{key!r}")
        return self.base / namespace / key

    def load(self, namespace: str, key: str) -> dict[str, bytes] | None:
        """The files of a stored set, or None when there is none (or it is damaged)."""
        d = self._dir(namespace, key)
        try:
            names = json.loads((d / _MANIFEST).read_text())
            files = {name: (d / name).read_bytes() for name in names if _FILE.match(name)}
        except (OSError, ValueError, TypeError):
            return None
        if len(files) != len(names):
            return None
        with contextlib.suppress(OSError):
            os.utime(d)
        return files

    def save(self, namespace: str, key: str, files: dict[str, bytes]) -> None:
        """Store a set atomically; a set already there under the key is kept as it is."""
        d = self._dir(namespace, key)
        for name in files:
            if not _FILE.match(name) or name == _MANIFEST:
                raise DependencyCacheError(f"invalid file name in dependency set: {name!r}")
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=d.parent))
        try:
            for name, data in files.items():
                (tmp / name).parent.mkdir(exist_ok=True)
                (tmp / name).write_bytes(data)
            (tmp / _MANIFEST).write_text(json.dumps(sorted(files)))
            try:
                tmp.rename(d)
            except OSError:
                if not d.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.collect_garbage(namespace)

    def collect_garbage(self, namespace: str) -> list[str]:
        """Remove the sets of `namespace` beyond the `keep` most recently used, and temporary
        directories left by an interrupted write; the keys removed."""
        ns_dir = self.base / namespace
        try:
            entries = list(ns_dir.iterdir())
        except OSError:
            return []
        now = time.time()
        sets: list[tuple[float, Path]] = []
        for p in entries:
            try:
                mtime = p.stat().st_mtime
            except OSError:
                continue
            if p.name.startswith(".tmp-"):
                if now - mtime > STALE_TEMP_SECONDS:
                    shutil.rmtree(p, ignore_errors=True)
            elif _KEY.match(p.name):
                sets.append((mtime, p))
        sets.sort(reverse=True)
        removed = []
        for _, p in sets[self.keep :]:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
        return removed
