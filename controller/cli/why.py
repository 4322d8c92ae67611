"""`helmward why NAME`: the first cause that keeps a HelmRelease from Ready, the evidence under
it, and the command that fixes it or shows more.

This module reads (the release, its source chain, the newest Helm storage Secret's labels, the
releases it depends on, the pods of a failed action and their events) and prints;
`internal.explain` decides. Secret data is never read: Helm storage is listed as metadata.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import Any

import api
from api.helmrelease import HelmRelease
from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.session import Session, open_session
from internal.explain import chain
from internal.explain import facts as fx
from internal.explain.answer import Answer
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.resources import (
    BUCKETS,
    EVENTS,
    GIT_REPOSITORIES,
    HELM_CHARTS,
    HELM_RELEASES,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
    SECRETS,
    Resource,
)

__all__ = ["COMMANDS", "Answer", "explain"]

PODS = Resource("", "v1", "pods", "Pod")
SOURCE_RESOURCES = {
    r.kind: r for r in (HELM_CHARTS, HELM_REPOSITORIES, GIT_REPOSITORIES, BUCKETS, OCI_REPOSITORIES)
}
"""The source kinds a release's chain may hold (a chartRef to another kind is not read: the
controller refuses it, and the answer says so)."""
PREFIXES = ("helmrelease/", "helmreleases/", "hr/")


async def explain(session: Session, namespace: str, name: str) -> Answer:
    """Why HelmRelease `namespace/name` is not Ready (or that it is): `.ready`, `.render()`."""
    return await Explainer(session.api).explain(namespace, name)


class Explainer:
    """One `why`: each object read once, each release explained once (dependencies share
    their answers)."""

    def __init__(self, api_client: ApiClient) -> None:
        self.api = api_client
        self._releases: dict[str, HelmRelease | api.ParseError | None] = {}
        self._answers: dict[str, Answer] = {}
        self._visiting: set[str] = set()

    async def explain(self, namespace: str, name: str) -> Answer:
        key = f"{namespace}/{name}"
        if key in self._answers:
            return self._answers[key]
        hr = await self.release(key)
        if hr is None:
            return chain.not_found("HelmRelease", namespace, name)
        if isinstance(hr, api.ParseError):
            return chain.invalid(namespace, name, hr.problems)
        self._visiting.add(key)
        try:
            answer = await self._explain(hr)
        finally:
            self._visiting.discard(key)
        self._answers[key] = answer
        return answer

    async def _explain(self, hr: HelmRelease) -> Answer:
        facts = fx.Facts(hr)
        if chain.suspended(facts) is not None:
            return chain.explain(facts)
        remote = hr.spec.kube_config is not None
        stored: fx.Stored | None = None
        pods: tuple[fx.Pod, ...] = ()
        if remote:  # its storage and pods are in a cluster only a Secret's kubeconfig reaches
            links = await self.sources(hr)
        else:
            links, stored, pods = await asyncio.gather(
                self.sources(hr), self.stored(hr), self.pods(hr)
            )
        facts = fx.Facts(hr, links, stored, remote, pods=pods)
        answer = chain.explain(facts)
        if not chain.needs_dependencies(answer) or not hr.spec.depends_on:
            return answer
        key = facts.ref.key
        cycle = fx.cycle_of(key, await self.graph(hr))
        deps = () if cycle else await self.dependencies(hr)
        return chain.explain(fx.Facts(hr, links, stored, remote, deps, cycle, pods))

    # Releases and the dependsOn graph.

    async def release(self, key: str) -> HelmRelease | api.ParseError | None:
        if key not in self._releases:
            ns, _, name = key.partition("/")
            raw = await rest.get_optional(self.api, HELM_RELEASES.path(ns, name))
            parsed: HelmRelease | api.ParseError | None = None
            if raw is not None:
                try:
                    obj = api.parse(raw)
                    assert isinstance(obj, HelmRelease)
                    parsed = obj
                except api.ParseError as exc:
                    parsed = exc
            self._releases[key] = parsed
        return self._releases[key]

    async def graph(self, hr: HelmRelease) -> dict[str, list[str]]:
        """The dependsOn edges of every release reachable from `hr`."""
        edges: dict[str, list[str]] = {}
        frontier = [hr]
        while frontier:
            found = [
                (r, [fx.dependency_key(r, d) for d in r.spec.depends_on or []]) for r in frontier
            ]
            frontier = []
            for r, deps in found:
                edges[f"{r.metadata.namespace}/{r.metadata.name}"] = deps
            todo = sorted({d for _, deps in found for d in deps if d not in edges})
            for dep, got in zip(
                todo, await asyncio.gather(*(self.release(d) for d in todo)), strict=True
            ):
                if isinstance(got, HelmRelease) and dep not in edges:
                    frontier.append(got)
        return edges

    async def dependencies(self, hr: HelmRelease) -> tuple[fx.Dependency, ...]:
        out: list[fx.Dependency] = []
        explained = False
        for ref in hr.spec.depends_on or []:
            key = fx.dependency_key(hr, ref)
            dep = await self.release(key)
            if dep is None:
                out.append(fx.Dependency(key, None, False, f"dependency '{key}' not found"))
                continue
            if isinstance(dep, api.ParseError):
                ns, _, name = key.partition("/")
                invalid = chain.invalid(ns, name, dep.problems)
                out.append(fx.Dependency(key, None, False, invalid.summary, invalid))
                continue
            readiness = fx.dependency_readiness(hr, dep, ref)
            answer = None
            if not readiness.ready and not explained and key not in self._visiting:
                ns, _, name = key.partition("/")
                answer = await self.explain(ns, name)
                explained = True
            out.append(fx.Dependency(key, dep, readiness.ready, readiness.message, answer))
        return tuple(out)

    # Sources.

    async def sources(self, hr: HelmRelease) -> tuple[fx.Link, ...]:
        ref = fx.chart_source(hr)
        if ref.kind not in SOURCE_RESOURCES:
            return ()
        first = await self.source(ref)
        links = [first]
        up = fx.upstream(hr, first.obj)
        if up is not None and up.kind in SOURCE_RESOURCES:
            links.append(await self.source(up))
        return tuple(links)

    async def source(self, ref: fx.Ref) -> fx.Link:
        raw = await rest.get_optional(
            self.api, SOURCE_RESOURCES[ref.kind].path(ref.namespace, ref.name)
        )
        if raw is None:
            return fx.Link(ref, None)
        try:
            obj = api.parse(raw)
        except api.ParseError as exc:
            first = exc.problems[0] if exc.problems else ("", "invalid")
            return fx.Link(ref, None, f"{first[0]}: {first[1]}")
        if not isinstance(obj, fx.SOURCE_TYPES):
            return fx.Link(ref, None, f"{obj.kind} is not a source kind")
        return fx.Link(ref, obj)

    # Helm storage: the labels of the newest release Secret, never its data.

    async def stored(self, hr: HelmRelease) -> fx.Stored | None:
        ns, release = fx.storage(hr)
        listing = await rest.request(
            self.api,
            "GET",
            SECRETS.path(ns),
            query={"labelSelector": f"owner=helm,name={release}"},
            accept=rest.METADATA_LIST,
        )
        newest: fx.Stored | None = None
        for item in listing.get("items") or []:
            meta = item.get("metadata") or {}
            labels = meta.get("labels") or {}
            try:
                version = int(labels.get("version", ""))
            except ValueError:
                continue
            if newest is None or version > newest.version:
                secret = fx.Ref("Secret", ns, str(meta.get("name", "")))
                newest = fx.Stored(secret, version, str(labels.get("status", "")))
        return newest

    # The pods of a failed action, and their events.

    async def pods(self, hr: HelmRelease) -> tuple[fx.Pod, ...]:
        out: list[fx.Pod] = []
        for ref, role in fx.pods_to_read(hr):
            if ref.kind == "Pod":
                raw = await rest.get_optional(self.api, PODS.path(ref.namespace, ref.name))
                found = [raw] if raw is not None else []
            else:  # a Job: its pods
                listing = await rest.request(
                    self.api,
                    "GET",
                    PODS.path(ref.namespace),
                    query={"labelSelector": f"batch.kubernetes.io/job-name={ref.name}"},
                )
                found = list(listing.get("items") or [])
            for pod in found:
                out.append(await self.pod(pod, role))
        return tuple(out)

    async def pod(self, raw: Mapping[str, Any], role: str) -> fx.Pod:
        meta, status = raw.get("metadata") or {}, raw.get("status") or {}
        ref = fx.Ref("Pod", str(meta.get("namespace", "")), str(meta.get("name", "")))
        containers = [
            _container(c)
            for c in [
                *(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or []),
            ]
        ]
        listing = await rest.request(
            self.api,
            "GET",
            EVENTS.path(ref.namespace),
            query={"fieldSelector": f"regarding.kind=Pod,regarding.name={ref.name}"},
        )
        items = sorted(listing.get("items") or [], key=_event_time)
        events = [
            fx.Event(
                str(e.get("type", "")),
                str(e.get("reason", "")),
                str(e.get("note", "")),
                int((e.get("series") or {}).get("count") or e.get("deprecatedCount") or 1),
            )
            for e in items
        ]
        return fx.Pod(ref, role, str(status.get("phase", "")), tuple(containers), tuple(events))


def _container(raw: Mapping[str, Any]) -> fx.Container:
    state: Mapping[str, Any] = raw.get("state") or {}
    kind = next(iter(state), "waiting")
    detail: Mapping[str, Any] = state.get(kind) or {}
    code = detail.get("exitCode")
    return fx.Container(
        str(raw.get("name", "")),
        kind,
        str(detail.get("reason", "")),
        int(code) if code is not None else None,
        str(detail.get("message", "")),
    )


def _event_time(event: Mapping[str, Any]) -> str:
    series = event.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("deprecatedLastTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


# The command.


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the HelmRelease (NAME or hr/NAME)")


async def run(args: argparse.Namespace) -> int:
    name = str(args.name)
    for prefix in PREFIXES:
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
    if args.all_namespaces or not name or "/" in name:
        print("error: why takes one HelmRelease, NAME in -n NAMESPACE (not -A)", file=sys.stderr)
        return Exit.USAGE
    try:
        async with open_session(args) as session:
            answer = await explain(session, session.namespace, name)
    except ApiException as exc:
        print(f"error: {exc.reason} ({exc.status})", file=sys.stderr)
        return Exit.NOT_READY
    if args.output in ("json", "yaml"):
        output.structured(answer.to_data(), args.output)
    else:
        lines = answer.render()
        output.line(lines[0], style="bold green" if answer.ready else "bold red")
        for line in lines[1:]:
            output.line(line)
    return Exit.OK if answer.ready else Exit.NOT_READY


COMMANDS = (
    Command(
        "why",
        "the first cause that keeps a HelmRelease from Ready, its evidence and the next command",
        configure,
        run,
    ),
)
