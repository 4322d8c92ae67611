"""glibc's allocator, set for a long-lived process whose work comes in bursts.

glibc gives each thread that allocates an arena of its own, and the engine's calls return their
answers on pool threads, so a busy fleet would spread small allocations over arenas that are
never given back: `limit_arenas` caps them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt's parameter number


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def limit_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas (as MALLOC_ARENA_MAX would); False without glibc."""
    libc = _libc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, arenas))
