"""Placeholder replaced below."""

from __future__ import annotations

from typing import Any

from controller.sources.context import Context, Failure, Outcome


async def reconcile(ctx: Context, obj: Any) -> Outcome:
    raise Failure("FetchFailed", "Failed", "not implemented yet")
