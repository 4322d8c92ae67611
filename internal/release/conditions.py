"""Conditions on the wire (`status.conditions` dicts) and Flux's Ready summary. Pure.

Ready is a summary of Remediated > TestSuccess > Released: a True Remediated means the release
was rolled back or uninstalled, so it counts against readiness; otherwise the first False (or
Unknown) condition in that order decides, and a fully True set takes the top one's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Cond = dict[str, Any]

READY, RELEASED, TEST_SUCCESS, REMEDIATED = "Ready", "Released", "TestSuccess", "Remediated"
RECONCILING, STALLED, DRIFTED = "Reconciling", "Stalled", "Drifted"


def get(conds: Sequence[Cond], type_: str) -> Cond | None:
    return next((c for c in conds if c.get("type") == type_), None)


def is_true(conds: Sequence[Cond], type_: str) -> bool:
    c = get(conds, type_)
    return c is not None and c.get("status") == "True"


def set_condition(
    conds: Sequence[Cond],
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: str,
) -> list[Cond]:
    """A copy with `type_` set. The transition time moves only when the status changes."""
    old = get(conds, type_)
    changed = old is None or old.get("status") != status
    new = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:32768],
        "observedGeneration": generation,
        "lastTransitionTime": now if changed or old is None else old.get("lastTransitionTime", now),
    }
    out = [c for c in conds if c.get("type") != type_]
    out.append(new)
    return _ordered(out)


def delete(conds: Sequence[Cond], type_: str) -> list[Cond]:
    return [c for c in conds if c.get("type") != type_]


def summarize(
    conds: Sequence[Cond],
    *,
    test_enabled: bool,
    ignore_test_failures: bool,
    generation: int,
    now: str,
) -> list[Cond]:
    """Derive Ready from the release conditions. TestSuccess takes part only when tests are
    enabled and their failures not ignored; disabling tests drops a stale TestSuccess."""
    tests_count = test_enabled and not ignore_test_failures
    out = list(conds) if test_enabled else delete(conds, TEST_SUCCESS)
    released_ok = is_true(out, RELEASED)
    if released_ok and (not tests_count or is_true(out, TEST_SUCCESS)):
        out = delete(out, REMEDIATED)
    order = [REMEDIATED, TEST_SUCCESS, RELEASED] if tests_count else [REMEDIATED, RELEASED]
    present = [c for t in order if (c := get(out, t)) is not None]
    if not present:
        return out
    remediated = get(out, REMEDIATED)
    if remediated is not None and remediated.get("status") == "True":
        pick, status = remediated, "False"
    elif bad := next(
        (c for c in present if c.get("type") != REMEDIATED and c.get("status") == "False"), None
    ):
        pick, status = bad, "False"
    elif unknown := next((c for c in present if c.get("status") == "Unknown"), None):
        pick, status = unknown, "Unknown"
    else:
        pick = next(c for c in present if c.get("type") != REMEDIATED)
        status = "True"
    return set_condition(
        out,
        READY,
        status,
        str(pick.get("reason", "")),
        str(pick.get("message", "")),
        generation=generation,
        now=now,
    )


_ORDER = {
    t: i
    for i, t in enumerate(
        [READY, RECONCILING, STALLED, RELEASED, TEST_SUCCESS, REMEDIATED, DRIFTED]
    )
}


def _ordered(conds: list[Cond]) -> list[Cond]:
    return sorted(conds, key=lambda c: _ORDER.get(str(c.get("type")), len(_ORDER)))
