"""The HelmRelease's conditions and Flux's Ready summary. Pure.

Ready is a summary of Remediated > TestSuccess > Released: a True Remediated means the release
was rolled back or uninstalled, so it counts against readiness; otherwise the first False (or
Unknown) condition in that order decides, and a fully True set takes the top one's reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from api import conditions as c
from api.meta import Condition, ConditionStatus

READY, RELEASED, TEST_SUCCESS, REMEDIATED = "Ready", "Released", "TestSuccess", "Remediated"
RECONCILING, STALLED, DRIFTED = "Reconciling", "Stalled", "Drifted"

ORDER = (READY, RECONCILING, STALLED, RELEASED, TEST_SUCCESS, REMEDIATED, DRIFTED)
"""The order the HelmRelease's conditions are written in."""


set_condition = functools.partial(c.set_condition, order=ORDER)
"""api.conditions.set_condition, keeping the HelmRelease's conditions in Flux's order."""


def summarize(
    conds: Sequence[Condition] | None,
    *,
    test_enabled: bool,
    ignore_test_failures: bool,
    generation: int,
    at: datetime | None = None,
) -> list[Condition]:
    """Derive Ready from the release conditions. TestSuccess takes part only when tests are
    enabled and their failures not ignored; disabling tests drops a stale TestSuccess."""
    tests_count = test_enabled and not ignore_test_failures
    out = list(conds or ()) if test_enabled else c.delete(conds, TEST_SUCCESS)
    if c.is_true(out, RELEASED) and (not tests_count or c.is_true(out, TEST_SUCCESS)):
        out = c.delete(out, REMEDIATED)
    order = [REMEDIATED, TEST_SUCCESS, RELEASED] if tests_count else [REMEDIATED, RELEASED]
    present = [x for t in order if (x := c.get(out, t)) is not None]
    if not present:
        return out
    pick, status = _deciding(present)
    return set_condition(
        out, READY, status, pick.reason, pick.message, generation=generation, at=at
    )


def _deciding(present: list[Condition]) -> tuple[Condition, ConditionStatus]:
    """The condition Ready takes its reason from, and Ready's status."""
    remediated = next((x for x in present if x.type == REMEDIATED), None)
    if remediated is not None and remediated.status is ConditionStatus.TRUE:
        return remediated, ConditionStatus.FALSE
    others = [x for x in present if x.type != REMEDIATED]
    false = next((x for x in others if x.status is ConditionStatus.FALSE), None)
    if false is not None:
        return false, ConditionStatus.FALSE
    unknown = next((x for x in present if x.status is ConditionStatus.UNKNOWN), None)
    if unknown is not None:
        return unknown, ConditionStatus.UNKNOWN
    if others:
        return others[0], ConditionStatus.TRUE
    # Only a False Remediated is left: it decides, as the first one present.
    return present[0], present[0].status
