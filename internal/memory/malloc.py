"""glibc's allocator, set for a long-lived process whose work comes in bursts.

glibc gives each thread that allocates an arena of its own, and the engine's calls return their
answers on pool threads, so a busy fleet would spread small allocations over arenas that are
never given back: `limit_arenas` caps them.
"""

from __future__ import annotations

from internal.memory.libc import libc

M_ARENA_MAX = -8  # mallopt's parameter number


def limit_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas (as MALLOC_ARENA_MAX would); False without glibc."""
    c = libc()
    return c is not None and hasattr(c, "mallopt") and bool(c.mallopt(M_ARENA_MAX, arenas))
