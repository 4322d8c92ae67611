"""`helmward diff NAME`: what the next upgrade of a HelmRelease would change, before it runs.

The upgrade is the one the controller would run next: the release's current spec, its values
composed as the controller composes them (valuesFrom, then spec.values), and its chart, the
artifact of its HelmChart (or chartRef) fetched from `status.artifact.url`. `--chart-version`
builds the chart of another version instead, resolved against the HelmRepository's index as
the HelmChart would be (its valuesFiles merged), and each `-f values.yaml` is merged over the
values, later files winning, as `helm -f` does. The render is dry-run server side against the
live objects as the release's identity (`internal.preview`), so the diff shows what the API
server would make of it, plus the objects the upgrade would delete. Secret data is masked.

Exit codes: 0 no changes, 1 changes (or the plan could not be made: an `error:` line on
stderr), 2 usage (no such release, a flag the release cannot honour, an unreadable file).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import api
from api.meta import Artifact
from api.naming import chart_source_namespace, helm_chart_name
from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.session import Session, kubeconfig_path, open_session
from controller.helmrelease import inputs
from controller.helmrelease.artifacts import ArtifactCache
from controller.helmrelease.chart import ChartArtifact, Charts, ChartUnavailable, source_of
from controller.helmrelease.cluster import release_cluster
from controller.helmrelease.values import compose_values
from controller.sources import helmchart
from controller.sources.context import Context, Failure
from internal.artifacts.storage import Storage
from internal.drift.live import DEFAULT_FIELD_MANAGER
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube import rest
from internal.kube.client import ApiException
from internal.kube.discovery import Discovery
from internal.kube.resources import HELM_CHARTS, HELM_RELEASES, OCI_REPOSITORIES
from internal.manager.clusters import Cluster, Clusters, KubeConfigError
from internal.manager.manager import Chart, Manager
from internal.preview import Change, Plan, PreviewError, plan_upgrade
from internal.values.compose import ValuesError, merge_maps

SOURCES = {"HelmChart": HELM_CHARTS, "OCIRepository": OCI_REPOSITORIES}
SYMBOLS = {"add": "+", "change": "~", "remove": "-"}


class Usage(Exception):
    """The caller asked for what cannot be: exit 2."""


class Failed(Exception):
    """The plan could not be made: exit 1, with the message on stderr."""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the HelmRelease")
    p.add_argument(
        "--chart-version",
        default=None,
        metavar="VERSION",
        help="preview this chart version (or semver range) from the HelmRepository instead",
    )
    p.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="a values file merged over the release's values (repeatable; later files win)",
    )
    p.add_argument(
        "--default-service-account",
        default=None,
        metavar="NAME",
        help="the controller's --default-service-account, for releases that name none",
    )


async def run(args: argparse.Namespace) -> int:
    if args.all_namespaces:
        return _usage("diff previews one release: -A does not apply")
    try:
        overrides = [_values_file(f) for f in args.values]
        async with open_session(args) as session:
            planned = await preview(session, args, overrides)
    except Usage as exc:
        return _usage(str(exc))
    except Failed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.NOT_READY
    if args.output in ("json", "yaml"):
        output.structured(planned.as_dict(), args.output)
    else:
        show(planned)
    return Exit.OK if planned.plan.empty else Exit.NOT_READY


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return Exit.USAGE


@dataclass(frozen=True)
class Planned:
    """The plan, and what it was made of."""

    namespace: str
    name: str
    action: str
    """install or upgrade"""
    chart: str
    version: str
    plan: Plan

    def as_dict(self) -> dict[str, Any]:
        return {
            "helmRelease": {"namespace": self.namespace, "name": self.name},
            "action": self.action,
            "chart": {"name": self.chart, "version": self.version},
            **self.plan.as_dict(),
        }


async def preview(
    session: Session, args: argparse.Namespace, overrides: list[dict[str, Any]]
) -> Planned:
    hr = await _release(session, args.name)
    engine = Engine(max_workers=8)
    try:
        with tempfile.TemporaryDirectory(prefix="helmward-diff-") as tmp:
            path, info, oci_digest = await _chart(session, engine, hr, args.chart_version, tmp)
            values = await _values(session, hr, overrides)
            clusters = Clusters(_local(session, engine, args))
            try:
                cluster = await release_cluster(
                    session.api, clusters, hr, args.default_service_account
                )
                mgr = Manager(
                    engine,
                    hr,
                    inputs.target(hr),
                    cluster,
                    Chart(path, info, values, oci_digest),
                )
                plan = await _plan(mgr)
            except KubeConfigError as exc:
                raise Failed(str(exc)) from None
            finally:
                await clusters.close()
    finally:
        engine.close()
    return Planned(
        namespace=hr.metadata.namespace or "",
        name=hr.metadata.name or "",
        action="upgrade" if mgr.is_installed() else "install",
        chart=str(info.metadata.get("name", "")),
        version=str(info.metadata.get("version", "")),
        plan=plan,
    )


async def _release(session: Session, name: str) -> api.HelmRelease:
    raw = await rest.get_optional(session.api, HELM_RELEASES.path(session.namespace, name))
    if raw is None:
        raise Usage(f'HelmRelease "{name}" not found in namespace "{session.namespace}"')
    try:
        hr = api.parse(raw)
    except api.ParseError as exc:
        raise Failed(f"HelmRelease {session.namespace}/{name} is invalid: {exc}") from None
    assert isinstance(hr, api.HelmRelease)
    return hr


def _local(session: Session, engine: Engine, args: argparse.Namespace) -> Cluster:
    """The cluster of the kubeconfig, for the engine (its content and context) and for the
    reads and dry runs beside it (the session's client), as the kubeconfig's user."""
    content = Path(kubeconfig_path(args.kubeconfig)).read_text()
    target = hm.ClusterTarget(kubeconfig=content, context=args.context)
    manager = engine.version().field_manager or DEFAULT_FIELD_MANAGER
    return Cluster(target, session.api, Discovery(session.api), manager)


async def _plan(mgr: Manager) -> Plan:
    try:
        await mgr.sync()
        return await plan_upgrade(mgr)
    except PreviewError as exc:
        raise Failed(str(exc)) from None
    except herr.HelmError as exc:
        raise Failed(f"could not read the release's storage: {exc}") from None
    except ApiException as exc:
        raise Failed(str(exc.reason)) from None


# --- values ------------------------------------------------------------------------------------


def _values_file(name: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except OSError as exc:
        raise Usage(f"cannot read values file {name}: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise Usage(f"values file {name} is not valid YAML{where}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise Usage(f"values file {name} is not a map of values")
    return doc


async def _values(
    session: Session, hr: api.HelmRelease, overrides: list[dict[str, Any]]
) -> dict[str, Any]:
    try:
        values = await compose_values(session.api, hr)
    except ValuesError as exc:
        raise Failed(str(exc)) from None
    except ApiException as exc:
        raise Failed(f"could not read the release's valuesFrom: {exc.reason}") from None
    for doc in overrides:
        values = merge_maps(values, doc)
    return values


# --- the chart ---------------------------------------------------------------------------------


async def _chart(
    session: Session, engine: Engine, hr: api.HelmRelease, version: str | None, tmp: str
) -> tuple[Path, hm.ChartInfo, str]:
    """The chart on disk, its metadata, and the OCI digest the release records."""
    if version is not None:
        path = await _chart_of_version(session, hr, version, Path(tmp))
        try:
            return path, await engine.load_chart(path), ""
        except herr.HelmError as exc:
            raise Failed(f"could not load chart: {exc}") from None
    artifact = await _artifact(session, hr)
    charts = Charts(engine, ArtifactCache(Path(tmp) / "artifacts"), {})
    try:
        path, info = await charts.load(artifact)
    except ChartUnavailable as exc:
        raise Failed(str(exc)) from None
    return path, info, artifact.oci_digest or ""


async def _artifact(session: Session, hr: api.HelmRelease) -> ChartArtifact:
    """The artifact the controller would upgrade with: its chart source's. One not yet built
    for the source's current spec (the controller waits for it) is used, with a note."""
    kind, key = source_of(hr)
    resource = SOURCES.get(kind)
    if resource is None:
        raise Failed(f"chartRef kind {kind} is not supported")
    ns, _, name = key.partition("/")
    obj = await rest.get_optional(session.api, resource.path(ns, name))
    if obj is None:
        raise Failed(f"{kind} '{key}' not found")
    status = obj.get("status") or {}
    if not status.get("artifact"):
        raise Failed(f"{kind} '{key}' has no artifact yet")
    if status.get("observedGeneration") != (obj.get("metadata") or {}).get("generation"):
        print(
            f"note: {kind} '{key}' has not built its current spec yet (the controller waits "
            "for it); the plan uses its last artifact",
            file=sys.stderr,
        )
    return ChartArtifact(kind, Artifact.model_validate(status["artifact"]))


async def _chart_of_version(
    session: Session, hr: api.HelmRelease, version: str, root: Path
) -> Path:
    """The chart `version` selects, built as the release's HelmChart would build it (the same
    source, chart and valuesFiles), into a scratch artifact store."""
    if hr.spec.chart is None:
        raise Usage("--chart-version needs a release with spec.chart (this one has a chartRef)")
    ns, name = chart_source_namespace(hr), helm_chart_name(hr)
    raw = await rest.get_optional(session.api, HELM_CHARTS.path(ns, name))
    if raw is None:
        raise Failed(f"HelmChart '{ns}/{name}' not found: the controller has not made it yet")
    chart = api.parse({**raw, "status": {}})
    assert isinstance(chart, api.HelmChart)
    if chart.spec.source_ref.kind != "HelmRepository":
        raise Usage(
            f"--chart-version needs a HelmRepository source; this chart comes from a "
            f"{chart.spec.source_ref.kind}"
        )
    chart = chart.model_copy(update={"spec": chart.spec.model_copy(update={"version": version})})
    ctx = Context(kube=session.api, storage=Storage(root, "localhost"), work_dir=str(root))
    try:
        built = await helmchart.reconcile(ctx, chart)
    except Failure as exc:
        raise Failed(exc.message) from None
    finally:
        if ctx.helm is not None:
            ctx.helm.close()
    assert built.artifact is not None
    return ctx.storage.local_path(str(built.artifact["path"]))


# --- what people read --------------------------------------------------------------------------


def show(planned: Planned) -> None:
    plan = planned.plan
    out = output.console()
    head = (
        f"HelmRelease {planned.namespace}/{planned.name}: {planned.action} "
        f"{planned.chart} {planned.version}"
    )
    if plan.empty:
        out.print(f"{head}: no changes ({plan.digest})", markup=False, highlight=False)
        return
    out.print(f"{head}: {plan.summary} ({plan.digest})", markup=False, style="bold")
    for change in plan.changes:
        out.print()
        out.print(_title(change), markup=False, style="bold")
        for text in change.diff.splitlines():
            out.print(text, markup=False, style=_style(text))


def _title(change: Change) -> str:
    where = f"{change.namespace}/{change.name}" if change.namespace else change.name
    return f"{SYMBOLS[change.action]} {change.kind} {where} ({change.action})"


def _style(text: str) -> str | None:
    if text.startswith(("---", "+++")):
        return "bold"
    if text.startswith("@@"):
        return "cyan"
    if text.startswith("+"):
        return "green"
    if text.startswith("-"):
        return "red"
    return None


COMMANDS: tuple[Command, ...] = (
    Command(
        name="diff",
        help="show what the next upgrade of a HelmRelease would change (exit 1 when anything)",
        configure=configure,
        run=run,
    ),
)
