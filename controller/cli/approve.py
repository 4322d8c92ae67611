"""`helmward approve NAME`: show the plan a release's approval gate holds, and approve it.

The controller records the plan waiting in the Ready condition (reason `AwaitingApproval`; the
message names the digest and the summary, in the form `internal.release.approval.parse`
reads). The command shows that plan and, for an install or upgrade, the diff as `helmward
diff` renders it, asks, and sets `helmward.io/approved=<digest>` (a merge patch of that
annotation only). Approving needs `--yes` or an answer on a terminal: with neither, it exits
2. It exits 1 when nothing waits, when the object changed since the plan was made, or when
`--digest` names another plan.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from api import conditions
from api.meta import Condition
from controller.cli import diff, output
from controller.cli.command import Command, Exit
from controller.cli.session import Session, open_session
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from internal.release import approval

DIFFABLE = ("Helm install ", "Helm upgrade ")
"""The plans `helmward diff` can show: the next install or upgrade."""


@dataclass(frozen=True)
class Waiting:
    """The plan a release's gate holds, as its Ready condition records it."""

    namespace: str
    name: str
    digest: str
    summary: str
    message: str
    approved: str
    """What `helmward.io/approved` says now."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "digest": self.digest,
            "summary": self.summary,
            "message": self.message,
            "approved": self.approved == self.digest,
        }


class NothingToApprove(Exception):
    """Why there is no plan to approve (exit 1)."""


def waiting(obj: dict[str, Any]) -> Waiting:
    """The plan waiting on `obj`; NothingToApprove says why there is none."""
    meta = obj.get("metadata") or {}
    ref = f"HelmRelease {meta.get('namespace')}/{meta.get('name')}"
    annotations = meta.get("annotations") or {}
    if annotations.get(approval.APPROVAL) != approval.REQUIRED:
        raise NothingToApprove(
            f"{ref} does not ask for approval (no {approval.APPROVAL}: {approval.REQUIRED})"
        )
    listed = (obj.get("status") or {}).get("conditions") or []
    ready = conditions.get([Condition.model_validate(c) for c in listed], "Ready")
    recorded = approval.parse(ready.message) if ready is not None else None
    if ready is None or ready.reason != approval.AWAITING or recorded is None:
        state = f"Ready={ready.status.value} ({ready.reason})" if ready else "not reconciled yet"
        raise NothingToApprove(f"no plan of {ref} awaits approval: {state}")
    generation = meta.get("generation")
    if ready.observed_generation != generation:
        raise NothingToApprove(
            f"{ref} changed since its plan was made (generation {generation}, plan made for "
            f"{ready.observed_generation}): run again once the controller has planned it"
        )
    return Waiting(
        str(meta.get("namespace")),
        str(meta.get("name")),
        recorded.digest,
        recorded.summary,
        ready.message,
        str(annotations.get(approval.APPROVED, "")),
    )


def show(plan: Waiting, args: argparse.Namespace) -> None:
    if args.output != "table":
        output.structured(plan.as_dict(), args.output)
        return
    output.line(f"HelmRelease {plan.namespace}/{plan.name}")
    output.line(f"  plan     {plan.digest}")
    output.line(f"  summary  {plan.summary}")
    output.line(f"  message  {plan.message}")


async def show_diff(session: Session, args: argparse.Namespace, plan: Waiting) -> None:
    """The diff of a waiting install or upgrade as `helmward diff` renders it, made now; a note
    when it is not the plan waiting (the live objects moved since the controller planned)."""
    if not plan.message.startswith(DIFFABLE):
        return
    opts = argparse.Namespace(**{**vars(args), "chart_version": None, "values": []})
    try:
        planned = await diff.preview(session, opts, [])
    except (diff.Failed, diff.Usage) as exc:
        output.line(f"note: the diff cannot be shown: {exc}", sys.stderr)
        return
    output.line()
    diff.show(planned)
    if planned.plan.digest != plan.digest:
        output.line(
            f"note: the plan made now is {planned.plan.digest}, not the one waiting; the "
            "controller plans again at its next reconcile",
            sys.stderr,
        )


def confirmed(plan: Waiting, args: argparse.Namespace) -> bool | None:
    """True when approved (`--yes` or `y` on a terminal); None when there is no one to ask."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return None
    answer = input(f"Approve plan {plan.digest} ({plan.summary})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def approve(session: Session, plan: Waiting) -> None:
    await rest.request(
        session.api,
        "PATCH",
        HELM_RELEASES.path(plan.namespace, plan.name),
        body={"metadata": {"annotations": {approval.APPROVED: plan.digest}}},
        content_type=rest.MERGE_PATCH,
    )


async def run(args: argparse.Namespace) -> int:
    if args.all_namespaces:
        output.line("error: approve approves one release: -A does not apply", sys.stderr)
        return Exit.USAGE
    async with open_session(args) as session:
        obj = await rest.get_optional(session.api, HELM_RELEASES.path(session.namespace, args.name))
        if obj is None:
            output.line(f"HelmRelease {session.namespace}/{args.name} not found", sys.stderr)
            return Exit.NOT_READY
        try:
            plan = waiting(obj)
        except NothingToApprove as exc:
            output.line(str(exc), sys.stderr)
            return Exit.NOT_READY
        show(plan, args)
        if args.digest and args.digest != plan.digest:
            output.line(f"the plan waiting is {plan.digest}, not {args.digest}", sys.stderr)
            return Exit.NOT_READY
        if args.output == "table":
            await show_diff(session, args, plan)
        if plan.approved == plan.digest:
            output.line(f"already approved: {approval.APPROVED}={plan.digest}", sys.stderr)
            return Exit.OK
        answer = confirmed(plan, args)
        if answer is None:
            output.line("not approved: pass --yes, or run it on a terminal to answer", sys.stderr)
            return Exit.USAGE
        if not answer:
            output.line("not approved", sys.stderr)
            return Exit.NOT_READY
        await approve(session, plan)
        output.line(f"approved: {approval.APPROVED}={plan.digest}", sys.stderr)
        return Exit.OK


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the HelmRelease")
    parser.add_argument("-y", "--yes", action="store_true", help="approve without asking")
    parser.add_argument(
        "--digest", default=None, help="approve only if the plan waiting has this digest"
    )
    parser.add_argument(
        "--default-service-account",
        default=None,
        metavar="NAME",
        help="the controller's --default-service-account, for the diff of releases naming none",
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "approve",
        "show the plan a release's approval gate holds, and approve it",
        configure,
        run,
    ),
)
