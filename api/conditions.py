"""Setting and reading `status.conditions` on the typed models, as fluxcd/pkg's `conditions`
helpers do for every kind. Pure functions over `list[Condition]`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.meta import Condition, ConditionStatus, now

MAX_MESSAGE = 32768


def get(conditions: Sequence[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or () if c.type == type_), None)


def is_true(conditions: Sequence[Condition] | None, type_: str) -> bool:
    c = get(conditions, type_)
    return c is not None and c.status is ConditionStatus.TRUE


def set_condition(
    conditions: Sequence[Condition] | None,
    type_: str,
    status: ConditionStatus | str,
    reason: str,
    message: str,
    *,
    generation: int,
    at: datetime | None = None,
    order: Sequence[str] = (),
) -> list[Condition]:
    """A copy with `type_` set. The transition time moves only when the status changes. Types
    named in `order` come first, in that order; the rest keep their place."""
    status = ConditionStatus(status)
    old = get(conditions, type_)
    moved = old is None or old.status is not status
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:MAX_MESSAGE],
        observed_generation=generation,
        last_transition_time=(at or now()) if moved or old is None else old.last_transition_time,
    )
    out = [new if c.type == type_ else c for c in conditions or ()]
    if old is None:
        out.append(new)
    if order:
        rank = {t: i for i, t in enumerate(order)}
        out.sort(key=lambda c: rank.get(c.type, len(rank)))
    return out


def delete(conditions: Sequence[Condition] | None, *types: str) -> list[Condition]:
    return [c for c in conditions or () if c.type not in types]
