"""`helmward reconcile NAME [--with-source] [--force] [--reset]`, `suspend NAME` and
`resume NAME`, with Flux's semantics.

`reconcile` sets `reconcile.fluxcd.io/requestedAt` to a fresh token (and `forceAt`/`resetAt` to
the same token when asked), then waits until the controller has handled that token
(`status.lastHandledReconcileAt`) for the current generation and the object is Ready, or has
settled not Ready (Stalled, or Ready=False with nothing in progress), or `--timeout` passes.
`--with-source` first does the same to the chart's source chain, source before chart, as
`flux reconcile hr --with-source`. `suspend` sets `spec.suspend: true`; `resume` sets it false
and requests a reconcile in the same patch, then waits as `reconcile` does.

The steps and the live phase (the Reconciling condition's message, else Ready's once the
request is handled) go to stderr: one line rewritten in place on a terminal, a line per new
phase otherwise. The outcome goes to stdout; when it is not Ready, `why`'s answer follows.
Exit 0 Ready, 1 not (or not found), 2 usage."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console

import api
from api.duration import DurationError, format_duration, parse_duration
from api.meta import (
    FORCE_REQUEST_ANNOTATION,
    RECONCILE_REQUEST_ANNOTATION,
    RESET_REQUEST_ANNOTATION,
)
from api.naming import chart_source_namespace, helm_chart_name
from controller.cli import output, why
from controller.cli.command import Command, Exit
from controller.cli.objects import RESOURCES, Item, find_release, get_item, one_line
from controller.cli.session import Session, open_session
from internal.kube import rest

POLL_SECONDS = 0.5
DEFAULT_TIMEOUT = "5m"


def request_token() -> str:
    """A new requestedAt value: the local time in RFC 3339 with its fraction, as Flux's CLI
    writes it (Go's RFC3339Nano)."""
    return datetime.now().astimezone().isoformat()


# Progress on stderr.


class Progress:
    """The steps and the current phase, on stderr. On a terminal the phase is one live line
    (a rich status spinner); elsewhere each new phase is printed once."""

    def __init__(self) -> None:
        self.err = sys.stderr
        self.live = self.err.isatty()
        self._status: Any = None
        self._last: str | None = None

    def step(self, text: str) -> None:
        if self._status is not None:
            self._status.console.print(text, markup=False, highlight=False)
        else:
            self.err.write(text + "\n")
            self.err.flush()

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        self.step(f"◎ waiting for {what} reconciliation")
        self._last = None
        if not self.live:
            yield
            return
        waiting = "waiting for the controller to handle the request"
        with Console(file=self.err, highlight=False).status(waiting) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def phase(self, text: str) -> None:
        if not text or text == self._last:
            return
        self._last = text
        if self._status is not None:
            self._status.update(text)
        else:
            self.step(f"  {text}")


# Waiting for a handled request.


def settled(item: Item, token: str) -> bool:
    """Whether the controller has finished with the request `token`: it handled the token for
    the object's current generation, and the object is Ready, Stalled, or not Ready with no
    reconcile in progress (Flux's kstatus: Current or Failed)."""
    if item.last_handled_reconcile_at != token:
        return False
    ready = item.condition("Ready")
    if ready is None:
        return False
    # Current for this generation: the Ready condition's own observedGeneration when it has
    # one, else the status's (Flux's CLI checks the same two).
    generation = item.metadata.generation or 0
    observed = ready.observed_generation or item.observed_generation or 0
    if observed < generation:
        return False
    if item.is_ready:
        return True
    stalled = item.condition("Stalled")
    if stalled is not None and stalled.status.value == "True":
        return True
    reconciling = item.condition("Reconciling")
    if reconciling is not None and reconciling.status.value == "True":
        return False
    return ready.status.value == "False"


def phase_of(item: Item, token: str) -> str:
    reconciling = item.condition("Reconciling")
    if reconciling is not None and reconciling.status.value == "True":
        return one_line(reconciling.message)
    if item.last_handled_reconcile_at == token:
        return one_line(item.ready[1])
    return ""


@dataclass
class Outcome:
    item: Item | None
    settled: bool

    @property
    def ready(self) -> bool:
        return self.settled and self.item is not None and self.item.is_ready


async def wait_for(
    session: Session, target: Target, token: str, deadline: float, progress: Progress
) -> Outcome:
    item: Item | None = None
    with progress.waiting(target.kind):
        while True:
            item = await get_item(session.api, target.kind, target.namespace, target.name)
            if item is None:
                return Outcome(None, True)
            progress.phase(phase_of(item, token))
            if settled(item, token):
                return Outcome(item, True)
            if time.monotonic() >= deadline:
                return Outcome(item, False)
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


# What is reconciled.


@dataclass(frozen=True)
class Target:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def success_message(item: Item) -> str:
    """Flux's: a release's applied chart version, a source's fetched revision."""
    if item.kind == "HelmRelease":
        return f"applied revision {item.revision}"
    return f"fetched revision {item.revision}"


async def source_targets(session: Session, hr: api.HelmRelease) -> list[Target] | str:
    """What `--with-source` reconciles first, in order (the chart's own source, then the
    chart); or why it cannot."""
    if hr.spec.chart is not None:
        chart = Target("HelmChart", chart_source_namespace(hr), helm_chart_name(hr))
    elif hr.spec.chart_ref is not None:
        ref = hr.spec.chart_ref
        namespace = ref.namespace or hr.metadata.namespace or ""
        if ref.kind == "OCIRepository":
            return [Target("OCIRepository", namespace, ref.name)]
        if ref.kind != "HelmChart":
            return f"cannot reconcile source of kind {ref.kind}"
        chart = Target("HelmChart", namespace, ref.name)
    else:
        return []
    item = await get_item(session.api, chart.kind, chart.namespace, chart.name)
    if item is None or not isinstance(item.model, api.HelmChart):
        return [chart]
    ref_kind = item.model.spec.source_ref.kind
    return [Target(ref_kind, chart.namespace, item.model.spec.source_ref.name), chart]


async def request(
    session: Session,
    target: Target,
    token: str,
    progress: Progress,
    *,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    verb: str = "annotating",
    done: str = "annotated",
) -> None:
    progress.step(f"► {verb} {target.kind} {target.name} in {target.namespace} namespace")
    body: dict[str, Any] = {
        "metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: token, **(annotations or {})}}
    }
    if spec is not None:
        body["spec"] = spec
    await rest.request(
        session.api,
        "PATCH",
        RESOURCES[target.kind].path(target.namespace, target.name),
        body=body,
        content_type=rest.MERGE_PATCH,
    )
    progress.step(f"✔ {target.kind} {done}")


async def why_lines(session: Session, namespace: str, name: str) -> list[str]:
    """The `why` answer for the release."""
    answer = await why.explain(session, namespace, name)
    return [str(line) for line in answer.render()]


def result(item: Item | None, target: Target, token: str, ok: bool) -> dict[str, Any]:
    ready = item.condition("Ready") if item else None
    return {
        "kind": target.kind,
        "namespace": target.namespace,
        "name": target.name,
        "requestedAt": token,
        "ready": ready.status.value if ready else ("False" if item else "NotFound"),
        "reason": ready.reason if ready else "",
        "message": ready.message if ready else "",
        "revision": item.revision if item else "",
        "succeeded": ok,
    }


async def converge(
    session: Session,
    args: argparse.Namespace,
    target: Target,
    token: str,
    deadline: float,
    progress: Progress,
    release: Target,
) -> tuple[bool, dict[str, Any]]:
    """Wait for `target` to handle `token`, and report on stdout; whether it ended Ready."""
    outcome = await wait_for(session, target, token, deadline, progress)
    data = result(outcome.item, target, token, outcome.ready)
    if outcome.ready:
        assert outcome.item is not None
        if target != release:
            progress.step(f"✔ {success_message(outcome.item)}")
        elif args.output == "table":
            output.line(f"✔ {success_message(outcome.item)}")
        return True, data
    if outcome.item is None:
        line = f"✗ {target} was deleted while waiting"
    elif outcome.settled:
        line = f"✗ {target.kind} reconciliation failed: {one_line(outcome.item.ready[1])}"
    else:
        timeout = format_duration(parse_duration(args.timeout))
        line = (
            f"✗ timed out after {timeout} waiting for {target} reconciliation: "
            f"{one_line(outcome.item.ready[1])}"
        )
    why = await why_lines(session, release.namespace, release.name)
    data["why"] = why
    if args.output == "table":
        output.line(line)
        for text in why:
            output.line(text)
    return False, data


def parse_timeout(args: argparse.Namespace) -> float | None:
    try:
        return parse_duration(args.timeout).total_seconds()
    except DurationError as exc:
        print(f"error: --timeout: {exc}", file=sys.stderr)
        return None


def finish(args: argparse.Namespace, ok: bool, data: dict[str, Any]) -> int:
    if args.output != "table":
        output.structured(data, args.output)
    return Exit.OK if ok else Exit.NOT_READY


def deadline_of(args: argparse.Namespace) -> float | None:
    """When `--timeout` runs out (monotonic clock); None, said on stderr, when it is no
    duration."""
    seconds = parse_timeout(args)
    return None if seconds is None else time.monotonic() + seconds


async def reconcile_sources(
    session: Session,
    args: argparse.Namespace,
    item: Item,
    release: Target,
    deadline: float,
    progress: Progress,
) -> int | None:
    """`--with-source`: each source of the release reconciled first, in chain order; the exit
    code when one cannot be, else None."""
    if item.release is None:
        output.line(f"✗ {release} is invalid: {item.invalid}")
        return finish(args, False, result(item, release, "", False))
    targets = await source_targets(session, item.release)
    if isinstance(targets, str):
        output.line(f"✗ {targets}")
        return finish(args, False, result(item, release, "", False))
    for source in targets:
        found = await get_item(session.api, source.kind, source.namespace, source.name)
        if found is not None and found.suspended:
            output.line(f"✗ {source} is suspended")
            return finish(args, False, result(found, source, "", False))
        if found is not None and found.static:
            output.line(f"✔ {source}: reconciliation not supported by the object")
            continue
        token = request_token()
        await request(session, source, token, progress)
        ok, data = await converge(session, args, source, token, deadline, progress, release)
        if not ok:
            return finish(args, False, data)
    return None


async def reconcile(args: argparse.Namespace) -> int:
    deadline = deadline_of(args)
    if deadline is None:
        return Exit.USAGE
    progress = Progress()
    async with open_session(args) as session:
        item = await find_release(session, args.name)
        if item is None:
            return Exit.NOT_READY
        release = Target("HelmRelease", session.namespace, args.name)
        if item.suspended:
            output.line(f"✗ {release} is suspended; resume it with: helmward resume {args.name}")
            return finish(args, False, result(item, release, "", False))
        if args.with_source:
            failed = await reconcile_sources(session, args, item, release, deadline, progress)
            if failed is not None:
                return failed
        token = request_token()
        extra = {}
        if args.force:
            extra[FORCE_REQUEST_ANNOTATION] = token
        if args.reset:
            extra[RESET_REQUEST_ANNOTATION] = token
        await request(session, release, token, progress, annotations=extra)
        ok, data = await converge(session, args, release, token, deadline, progress, release)
    return finish(args, ok, data)


async def suspend(args: argparse.Namespace) -> int:
    progress = Progress()
    async with open_session(args) as session:
        item = await find_release(session, args.name)
        if item is None:
            return Exit.NOT_READY
        target = Target("HelmRelease", session.namespace, args.name)
        progress.step(f"► suspending {target.kind} {target.name} in {target.namespace} namespace")
        await rest.request(
            session.api,
            "PATCH",
            RESOURCES[target.kind].path(target.namespace, target.name),
            body={"spec": {"suspend": True}},
            content_type=rest.MERGE_PATCH,
        )
        if args.output == "table":
            output.line(f"✔ {target.kind} suspended")
        else:
            output.structured({**result(item, target, "", True), "suspended": True}, args.output)
    return Exit.OK


async def resume(args: argparse.Namespace) -> int:
    deadline = deadline_of(args)
    if deadline is None:
        return Exit.USAGE
    progress = Progress()
    async with open_session(args) as session:
        item = await find_release(session, args.name)
        if item is None:
            return Exit.NOT_READY
        target = Target("HelmRelease", session.namespace, args.name)
        token = request_token()
        await request(
            session,
            target,
            token,
            progress,
            spec={"suspend": False},
            verb="resuming",
            done="resumed",
        )
        ok, data = await converge(session, args, target, token, deadline, progress, target)
    return finish(args, ok, data)


def name_and_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the HelmRelease")
    p.add_argument(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        help="how long to wait, as a Go duration (default 5m)",
    )


def configure_reconcile(p: argparse.ArgumentParser) -> None:
    name_and_timeout(p)
    p.add_argument(
        "--with-source",
        action="store_true",
        help="reconcile the chart's source and the chart first",
    )
    p.add_argument(
        "--force", action="store_true", help="force a one-off install or upgrade (forceAt)"
    )
    p.add_argument("--reset", action="store_true", help="reset the failure counts (resetAt)")


def configure_suspend(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the HelmRelease")


COMMANDS = (
    Command(
        "reconcile",
        "ask for a reconcile now and wait until the HelmRelease is Ready",
        configure_reconcile,
        reconcile,
    ),
    Command("suspend", "stop reconciling a HelmRelease", configure_suspend, suspend),
    Command(
        "resume",
        "resume a suspended HelmRelease and wait until it is Ready",
        name_and_timeout,
        resume,
    ),
)
