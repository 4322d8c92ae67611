"""Finding and loading the shim library (`libhelmward.so`) through ctypes.

The library is found by absolute path: `HELMWARD_SHIM_PATH` when set, else the location
`hack/lib/build-shim.sh` builds to, `~/.cache/helmward/shim/<key>/libhelmward.so`, whose key
hashes the shim's Go sources, go.mod, go.sum and the build script. `key_of` below must hash
exactly what the script hashes.

A process holds one Go runtime, so one library: `load` returns the same `Library` every time.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from internal.helm.errors import ShimUnavailableError

ABI_VERSION = 1
SHIM_PATH_ENV = "HELMWARD_SHIM_PATH"
LIBRARY_NAME = "libhelmward.so"

SHIM_DIR = Path(__file__).resolve().parent / "shim"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "lib" / "build-shim.sh"

_BUILD_HINT = (
    "Build it with `make shim` (or `bash hack/lib/build-shim.sh`), "
    f"or set {SHIM_PATH_ENV} to the absolute path of a libhelmward.so."
)


def cache_root() -> Path:
    return Path(os.environ.get("HELMWARD_CACHE") or Path.home() / ".cache" / "helmward")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def key_of(shim_dir: Path = SHIM_DIR, script: Path = BUILD_SCRIPT) -> str:
    """The build key: the same lines build-shim.sh hashes (the Go sources of the shim and its
    packages, by path), hashed the same way."""
    names = sorted(
        p.relative_to(shim_dir).as_posix()
        for p in shim_dir.rglob("*")
        if p.is_file()
        and ((p.parent == shim_dir and p.name in ("go.mod", "go.sum")) or p.suffix == ".go")
        and not p.name.endswith("_test.go")
        and "testdata" not in p.relative_to(shim_dir).parts
    )
    lines = "".join(f"{_sha256(shim_dir / n)}  {n}\n" for n in names)
    lines += f"{_sha256(script)}  build-shim.sh\n"
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def built_path() -> Path | None:
    """Where build-shim.sh puts the library for these sources, or None outside a checkout."""
    if not (SHIM_DIR / "go.mod").is_file() or not BUILD_SCRIPT.is_file():
        return None
    return cache_root() / "shim" / key_of() / LIBRARY_NAME


def library_path() -> Path:
    """The library to load, or ShimUnavailableError saying how to get one."""
    env = os.environ.get(SHIM_PATH_ENV)
    if env:
        path = Path(env)
        if not path.is_absolute():
            raise ShimUnavailableError(f"{SHIM_PATH_ENV}={env} is not an absolute path.")
        if not path.is_file():
            raise ShimUnavailableError(f"{SHIM_PATH_ENV}={env} does not exist. {_BUILD_HINT}")
        return path
    built = built_path()
    if built is None:
        raise ShimUnavailableError(
            f"The Helm engine shim is not configured: set {SHIM_PATH_ENV} to the absolute "
            "path of libhelmward.so."
        )
    if not built.is_file():
        raise ShimUnavailableError(
            f"The Helm engine shim is not built for these sources (expected {built}). "
            + _BUILD_HINT
        )
    return built


class Library:
    """The four C functions of the shim, typed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            cdll = ctypes.CDLL(str(path))
        except OSError as exc:
            raise ShimUnavailableError(f"cannot load {path}: {exc}. {_BUILD_HINT}") from exc
        self._call = cdll.HelmwardCall
        self._call.argtypes = [ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_int]
        self._call.restype = ctypes.c_void_p
        self._cancel = cdll.HelmwardCancel
        self._cancel.argtypes = [ctypes.c_ulonglong]
        self._cancel.restype = ctypes.c_int
        self._free = cdll.HelmwardFree
        self._free.argtypes = [ctypes.c_void_p]
        self._free.restype = None
        self._version = cdll.HelmwardVersion
        self._version.argtypes = []
        self._version.restype = ctypes.c_void_p
        info = self.version()
        if info.get("abi") != ABI_VERSION:
            raise ShimUnavailableError(
                f"{path} speaks ABI {info.get('abi')}, this binding speaks {ABI_VERSION}. "
                + _BUILD_HINT
            )

    def _take(self, pointer: int | None) -> bytes:
        if not pointer:
            raise ShimUnavailableError("the shim returned a null string")
        try:
            return ctypes.string_at(pointer)
        finally:
            self._free(pointer)

    def call(self, call_id: int, request: bytes) -> bytes:
        """Run one request; blocks until it finishes. ctypes releases the GIL meanwhile."""
        return self._take(self._call(call_id, request, len(request)))

    def cancel(self, call_id: int) -> bool:
        """Cancel the call with this id; True if it was running."""
        return bool(self._cancel(call_id))

    def version(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._take(self._version()))
        return data


_lock = threading.Lock()
_loaded: Library | None = None


def load(path: Path | None = None) -> Library:
    """The process's library, loaded on first use."""
    global _loaded
    with _lock:
        if _loaded is not None and path is None:
            return _loaded
        wanted = path or library_path()
        if _loaded is None:
            _loaded = Library(wanted)
        elif _loaded.path.resolve() != wanted.resolve():
            raise ShimUnavailableError(
                f"{_loaded.path} is already loaded; a process holds one Go runtime, "
                f"so {wanted} cannot be loaded too."
            )
        return _loaded
