"""`helmward get [helmreleases|sources|all|KIND] [NAME]`: Flux's `flux get` table (NAME,
REVISION, SUSPENDED, READY, MESSAGE, and AGE), one line per object, sorted by namespace, kind
(sources, charts, releases) and name. Exit 1 when a listed object is not Ready."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.objects import (
    RESOURCES,
    SOURCE_KINDS,
    Item,
    kind_of,
    list_items,
    one_line,
    sort_key,
    truncate_hex,
)
from controller.cli.session import open_session

GROUPS: dict[str, tuple[str, ...]] = {
    "sources": SOURCE_KINDS,
    "source": SOURCE_KINDS,
    "all": (*SOURCE_KINDS, "HelmRelease"),
}


def kinds_of(what: str) -> tuple[str, ...] | None:
    """The kinds `what` asks for: a group (sources, all) or one kind by any of its names."""
    if what.lower() in GROUPS:
        return GROUPS[what.lower()]
    kind = kind_of(what)
    return None if kind is None else (kind,)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what",
        nargs="?",
        default="helmreleases",
        metavar="helmreleases|sources|all|KIND",
        help="what to list (default helmreleases; hr, helmrelease, or one source kind)",
    )
    p.add_argument("name", nargs="?", default=None, help="only the object of this name")


def revision(item: Item) -> str:
    """Flux's REVISION: a chart version stays whole, a digest or commit is cut to 8 digits."""
    if item.kind in ("HelmRelease", "HelmChart"):
        return item.revision
    return truncate_hex(item.revision)


def message(item: Item) -> str:
    if item.invalid is not None and item.condition("Ready") is None:
        return f"invalid: {item.invalid}"
    text = item.ready[1]
    return one_line(text if item.kind == "HelmRelease" else truncate_hex(text))


def record(item: Item) -> dict[str, Any]:
    """A row as data, for -o json|yaml: the columns, with suspended a boolean and the creation
    time beside the age."""
    created = item.metadata.creation_timestamp
    return {
        "namespace": item.namespace,
        "kind": item.kind,
        "name": item.name,
        "revision": item.revision,
        "suspended": item.suspended,
        "ready": item.ready[0],
        "message": item.ready[1],
        "age": output.age(created),
        "created": created.isoformat().replace("+00:00", "Z") if created else None,
    }


def columns(item: Item, *, namespace: bool, kind: bool) -> list[str]:
    row = [item.namespace] if namespace else []
    if kind:
        row.append(item.kind)
    return [
        *row,
        item.name,
        revision(item),
        str(item.suspended),
        item.ready[0],
        message(item),
        output.age(item.metadata.creation_timestamp),
    ]


async def run(args: argparse.Namespace) -> int:
    kinds = kinds_of(args.what)
    if kinds is None:
        plurals = (r.plural for r in RESOURCES.values() if r.kind != "HelmRelease")
        known = ", ".join(("helmreleases", "sources", "all", *plurals))
        print(f"error: unknown kind {args.what!r} (one of {known})", file=sys.stderr)
        return Exit.USAGE
    async with open_session(args) as session:
        listings = await asyncio.gather(
            *(list_items(session.api, kind, session.scope) for kind in kinds)
        )
    items = sorted((i for listing in listings for i in listing), key=sort_key)
    if args.name is not None:
        items = [i for i in items if i.name == args.name]
    if not items:
        where = "any" if session.all_namespaces else f'"{session.namespace}"'
        what = f"{kinds[0]} " if len(kinds) == 1 else ""
        subject = f"object '{args.name}'" if args.name else "objects"
        print(f"✗ no {what}{subject} found in {where} namespace", file=sys.stderr)
        # As Flux's: an empty listing of one kind is an error, of a group it is not.
        return Exit.NOT_READY if len(kinds) == 1 or args.name else Exit.OK
    if args.output != "table":
        output.structured([record(i) for i in items], args.output)
    else:
        show_kind = len(kinds) > 1
        headers = ["name", "revision", "suspended", "ready", "message", "age"]
        if show_kind:
            headers.insert(0, "kind")
        if session.all_namespaces:
            headers.insert(0, "namespace")
        rows = [columns(i, namespace=session.all_namespaces, kind=show_kind) for i in items]
        output.table(headers, rows)
    return Exit.OK if all(i.is_ready for i in items) else Exit.NOT_READY


COMMANDS = (
    Command(
        "get",
        "list HelmReleases and sources with their revision and Ready status",
        configure,
        run,
    ),
)
