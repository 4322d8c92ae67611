"""`helmward events [KIND/]NAME`: the core/v1 Events of a HelmRelease and, as
`flux events --for HelmRelease/NAME` shows them, of its HelmChart and the chart's source; of a
HelmChart and its source; or of one source. Sorted by when each was last seen, in kubectl's
columns (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; NAMESPACE first when they span namespaces).
Exit 1 when the object does not exist."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import api
from api.naming import chart_source_namespace, helm_chart_name
from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.objects import get_item, kind_of, one_line
from controller.cli.session import Session, open_session
from internal.kube import rest
from internal.kube.resources import Resource

CORE_EVENTS = Resource("", "v1", "events", "Event")
TYPES = ("Normal", "Warning")


@dataclass(frozen=True)
class Event:
    namespace: str
    type: str
    reason: str
    object: str
    message: str
    count: int
    first: datetime | None
    last: datetime | None
    order: int

    @property
    def last_seen(self) -> str:
        """kubectl's LAST SEEN: the age of the first occurrence, or of the last one with the
        count and the span when it happened more than once."""
        if self.count > 1:
            return f"{output.age(self.last)} (x{self.count} over {output.age(self.first)})"
        return output.age(self.first or self.last)

    def sort_key(self) -> tuple[datetime, int]:
        return self.last or self.first or datetime.min.replace(tzinfo=UTC), self.order

    def data(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "lastSeen": self.last_seen,
            "firstTimestamp": _wire(self.first),
            "lastTimestamp": _wire(self.last),
            "count": self.count,
            "type": self.type,
            "reason": self.reason,
            "object": self.object,
            "message": self.message,
        }


def _wire(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event_of(obj: dict[str, Any]) -> Event:
    """An Event of the core/v1 API: its times from the series, else lastTimestamp, else
    eventTime, as kubectl reads them."""
    involved = obj.get("involvedObject") or {}
    series = obj.get("series") or {}
    first = _time(obj.get("firstTimestamp")) or _time(obj.get("eventTime"))
    last = _time(series.get("lastObservedTime")) or _time(obj.get("lastTimestamp")) or first
    count = int(series.get("count") or obj.get("count") or 1)
    meta = obj.get("metadata") or {}
    return Event(
        namespace=str(meta.get("namespace", "")),
        type=str(obj.get("type", "")),
        reason=str(obj.get("reason", "")),
        object=f"{involved.get('kind', '')}/{involved.get('name', '')}",
        message=one_line(str(obj.get("message", ""))),
        count=count,
        first=first,
        last=last,
        order=int(meta.get("resourceVersion") or 0),
    )


async def involved(session: Session, kind: str, name: str) -> list[tuple[str, str, str]] | None:
    """(kind, namespace, name) of the objects whose events are shown; None when the object
    itself does not exist."""
    namespace = session.namespace
    item = await get_item(session.api, kind, namespace, name)
    if item is None:
        return None
    out = [(kind, namespace, name)]
    model = item.model
    if isinstance(model, api.HelmRelease):
        if model.spec.chart is not None:
            source_ns = chart_source_namespace(model)
            ref = model.spec.chart.spec.source_ref
            out.append(("HelmChart", source_ns, helm_chart_name(model)))
            out.append((ref.kind, source_ns, ref.name))
        elif model.spec.chart_ref is not None:
            chart_ref = model.spec.chart_ref
            out.append((str(chart_ref.kind), chart_source_namespace(model), chart_ref.name))
    elif isinstance(model, api.HelmChart):
        out.append((model.spec.source_ref.kind, namespace, model.spec.source_ref.name))
    return out


async def events_of(session: Session, kind: str, namespace: str, name: str) -> list[Event]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    listing = await rest.request(
        session.api, "GET", CORE_EVENTS.path(namespace), query={"fieldSelector": selector}
    )
    return [event_of(e) for e in listing.get("items") or []]


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="[KIND/]NAME", help="a HelmRelease, or KIND/NAME of a source")
    p.add_argument(
        "--types",
        default="",
        help="only events of these types, comma-separated (Normal, Warning)",
    )


async def run(args: argparse.Namespace) -> int:
    kind_word, _, name = args.name.rpartition("/")
    kind = kind_of(kind_word) if kind_word else "HelmRelease"
    if kind is None:
        print(f"error: unknown kind {kind_word!r}", file=sys.stderr)
        return Exit.USAGE
    wanted = {t.strip().lower() for t in args.types.split(",") if t.strip()}
    unknown = wanted - {t.lower() for t in TYPES}
    if unknown:
        print(
            f"error: type '{sorted(unknown)[0]}' not supported. Supported types are Normal, "
            "Warning",
            file=sys.stderr,
        )
        return Exit.USAGE
    async with open_session(args) as session:
        objects = await involved(session, kind, name)
        if objects is None:
            print(
                f"✗ {kind} '{name}' not found in '{session.namespace}' namespace", file=sys.stderr
            )
            return Exit.NOT_READY
        found = await asyncio.gather(*(events_of(session, *o) for o in dict.fromkeys(objects)))
    events = sorted(
        (e for batch in found for e in batch if not wanted or e.type.lower() in wanted),
        key=Event.sort_key,
    )
    if args.output != "table":
        output.structured([e.data() for e in events], args.output)
        return Exit.OK
    if not events:
        print(f"✗ No events found in {session.namespace} namespace.", file=sys.stderr)
        return Exit.OK
    show_namespace = any(e.namespace != session.namespace for e in events)
    headers = ["last seen", "type", "reason", "object", "message"]
    if show_namespace:
        headers.insert(0, "namespace")
    rows = [
        [
            *([e.namespace] if show_namespace else []),
            e.last_seen,
            e.type,
            e.reason,
            e.object,
            e.message,
        ]
        for e in events
    ]
    output.table(headers, rows)
    return Exit.OK


COMMANDS = (
    Command(
        "events",
        "the Events of a HelmRelease, its chart and its source",
        configure,
        run,
    ),
)
