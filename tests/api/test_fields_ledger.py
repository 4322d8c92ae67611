"""docs/fields.md, the ledger of every spec field: each field path of every generated CRD has
a row that says either `acts as Flux`, naming the tests that show it, or `differs: <Reason>`,
naming the condition reason Helmward sets instead and its tests. A field added to the API with
no row, a row naming a test that does not exist, or a difference without a reason fails here,
so no field can be silently ignored.

Below the ledger's checks: the evidence for the HelmRelease fields that only travel into an
engine request, the release plan or the generated HelmChart (pure functions, checked field by
field); the engine, e2e and sources tests the ledger also names show what those requests do."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
import yaml

import api
from api.helmrelease import HelmRelease, HelmReleaseStatus
from api.naming import SHARD_LABEL
from controller.helmrelease import inputs
from controller.helmrelease.chart import source_of
from controller.helmrelease.template import already_applied, desired_chart
from internal.drift.diff import ChangeType, compare
from internal.manager import options
from internal.release.actions import Action
from internal.release.plan import Remediation, RollbackTarget, Strategy
from tests.drift.test_diff import DEPLOY as WEB
from tests.helmrelease.conftest import release_object
from tests.helmrelease.test_pipeline import KEY, Pipeline, with_finalizer, without_chart
from tests.helmrelease.test_pipeline import pipeline as pipeline  # the fixture, reused

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "fields.md"
CRDS = ROOT / "config" / "crd" / "bases"

PENDING_ALLOWED = frozenset(
    {
        "spec.serviceAccountName",
        "spec.persistentClient",
        "spec.kubeConfig.configMapRef",
        "spec.kubeConfig.configMapRef.name",
        "spec.upgrade.chartNameChangeStrategy",
        "spec.chart.spec.sourceRef.namespace",
        "spec.chartRef.namespace",
        "spec.dependsOn[].namespace",
    }
)
"""Fields another change was wiring while the ledger was written: only these may name a test
as `(test pending: <name>)`."""

ROW = re.compile(r"^\|\s*`(?P<path>spec[^`]*)`\s*\|(?P<verdict>[^|]*)\|(?P<tests>[^|]*)\|")
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?`")
PENDING = re.compile(r"\(test pending: (\w+)\)")
REASON = re.compile(r"^differs:\s*`([A-Z][A-Za-z]+)`$")


@dataclass(frozen=True)
class Row:
    kind: str
    path: str
    verdict: str
    tests: tuple[tuple[str, str, str | None], ...]
    pending: tuple[str, ...]
    line: int


def _walk(schema: dict[str, Any], prefix: str, out: list[str]) -> None:
    if schema.get("type") == "array":
        _walk(schema.get("items") or {}, prefix + "[]", out)
        return
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}"
        out.append(path)
        _walk(sub, path, out)


@cache
def crd_fields() -> dict[str, tuple[str, ...]]:
    """Kind → every spec field path of its served (storage) version, nested, arrays as []."""
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        version = next(v for v in doc["spec"]["versions"] if v.get("storage"))
        spec = version["schema"]["openAPIV3Schema"]["properties"].get("spec") or {}
        fields: list[str] = []
        _walk(spec, "spec", fields)
        out[doc["spec"]["names"]["kind"]] = tuple(fields)
    return out


@cache
def ledger() -> tuple[Row, ...]:
    rows: list[Row] = []
    kind = ""
    for number, line in enumerate(LEDGER.read_text().splitlines(), 1):
        if line.startswith("## "):
            kind = line[3:].split()[0]
            continue
        match = ROW.match(line)
        if match is None:
            continue
        tests = tuple(
            (file, first, second) for file, first, second in TEST_ID.findall(match["tests"])
        )
        rows.append(
            Row(
                kind,
                match["path"],
                match["verdict"].strip(),
                tuple((f, a, b or None) for f, a, b in tests),
                tuple(PENDING.findall(match["tests"])),
                number,
            )
        )
    return tuple(rows)


def _defined(file: str, name: str, method: str | None) -> bool:
    path = ROOT / file
    if not path.is_file():
        return False
    tree = ast.parse(path.read_text())
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if method is None and isinstance(node, functions) and node.name == name:
            return True
        if method is not None and isinstance(node, ast.ClassDef) and node.name == name:
            return any(isinstance(n, functions) and n.name == method for n in node.body)
    return False


def test_every_crd_field_has_one_row() -> None:
    rows = ledger()
    have = {(r.kind, r.path) for r in rows}
    want = {(kind, path) for kind, paths in crd_fields().items() for path in paths}
    assert not want - have, f"fields without a row in {LEDGER.name}: {sorted(want - have)}"
    assert not have - want, f"rows of no CRD field: {sorted(have - want)}"
    seen: set[tuple[str, str]] = set()
    twice = [
        (r.kind, r.path) for r in rows if (r.kind, r.path) in seen or seen.add((r.kind, r.path))
    ]
    assert not twice, f"fields with more than one row: {twice}"


def test_every_row_names_tests_that_exist() -> None:
    missing = []
    for row in ledger():
        if not row.tests and not row.pending:
            missing.append(f"line {row.line} {row.kind} {row.path}: no test named")
        for file, name, method in row.tests:
            if not _defined(file, name, method):
                test_id = "::".join(p for p in (file, name, method) if p)
                missing.append(f"line {row.line} {row.kind} {row.path}: {test_id} does not exist")
    assert not missing, "\n".join(missing)


def test_pending_tests_only_for_the_fields_being_wired() -> None:
    wrong = [r.path for r in ledger() if r.pending and r.path not in PENDING_ALLOWED]
    assert not wrong, f"only {sorted(PENDING_ALLOWED)} may have a pending test: {wrong}"


COUNT_ROW = re.compile(r"^\| (?P<kind>\w+) \| (?P<n>\d+) \| (?P<acts>\d+) \| (?P<differ>\d+) \|$")
SUMMARY = re.compile(r"^(?P<n>\d+) fields: (?P<acts>\d+) act as Flux, (?P<differ>\d+) differ\.$")


def test_the_counts_are_the_rows() -> None:
    """The counts table and each section's summary line say what the rows say."""
    expected: dict[str, tuple[int, int, int]] = {}
    for row in ledger():
        fields, acts, _ = expected.get(row.kind, (0, 0, 0))
        acts += row.verdict == "acts as Flux"
        expected[row.kind] = (fields + 1, acts, fields + 1 - acts)
    total = tuple(sum(c[i] for c in expected.values()) for i in range(3))
    table: dict[str, tuple[int, ...]] = {}
    summaries: dict[str, tuple[int, ...]] = {}
    kind = ""
    for line in LEDGER.read_text().splitlines():
        if line.startswith("## "):
            kind = line[3:].split()[0]
        if (m := COUNT_ROW.match(line)) is not None:
            table[m["kind"]] = (int(m["n"]), int(m["acts"]), int(m["differ"]))
        if (m := SUMMARY.match(line)) is not None:
            summaries[kind] = (int(m["n"]), int(m["acts"]), int(m["differ"]))
    assert table == {**expected, "all": total}
    assert summaries == expected


@cache
def _source_text() -> str:
    files = [*ROOT.glob("api/**/*.py"), *ROOT.glob("controller/**/*.py")]
    files += [*ROOT.glob("internal/**/*.py")]
    return "\n".join(p.read_text() for p in files)


def test_every_row_is_a_verdict_and_every_difference_a_reason_the_code_sets() -> None:
    wrong = []
    for row in ledger():
        if row.verdict == "acts as Flux":
            continue
        match = REASON.match(row.verdict)
        if match is None:
            wrong.append(f"line {row.line} {row.path}: '{row.verdict}' is no verdict")
        elif f'"{match[1]}"' not in _source_text():
            wrong.append(f"line {row.line} {row.path}: no code sets the reason {match[1]}")
    assert not wrong, "\n".join(wrong)


# --- evidence: the HelmRelease fields that travel into an engine request ----------------------


def release(**spec: Any) -> HelmRelease:
    raw = release_object(**spec)
    raw["spec"] = {k: v for k, v in raw["spec"].items() if v is not None}
    hr = api.parse(raw)
    assert isinstance(hr, HelmRelease)
    return hr


TARGET = options.Target("app", "apps", "apps")
CHART = Path("/charts/app")


def _request(op: str, hr: HelmRelease) -> Any:
    if op == "install":
        return options.install(hr, TARGET, CHART, {})
    if op == "upgrade":
        return options.upgrade(hr, TARGET, CHART, {})
    if op == "rollback":
        return options.rollback(hr, TARGET, 1)
    if op == "uninstall":
        return options.uninstall(hr, TARGET)
    return options.test(hr, TARGET)


PATCH = "- op: add\n  path: /metadata/labels/x\n  value: y\n"
TARGET_SELECTOR = {
    "group": "apps",
    "version": "v1",
    "kind": "Deployment",
    "name": "web",
    "namespace": "apps",
    "labelSelector": "app=web",
    "annotationSelector": "tier=front",
}
IMAGE = {"name": "nginx", "newName": "mirror/nginx", "newTag": "1.27", "digest": "sha256:ab"}

# (field path, spec fragment, operation, what of the request, expected)
OptionRow = tuple[str, dict[str, Any], str, Callable[[Any], Any], Any]


def _option(
    path: str, value: Any, attr: str | Callable[[Any], Any], expected: Any, **beside: Any
) -> OptionRow:
    """The row of spec.<action>.<field> set to `value` (and `beside` set in the same section),
    read from that action's request as the attribute `attr`, or by `attr` when a callable."""
    _, action, name = path.split(".")
    get = attrgetter(attr) if isinstance(attr, str) else attr
    return (path, {action: {name: value, **beside}}, action, get, expected)


SSA = attrgetter("server_side_apply", "force_conflicts")
REUSE = attrgetter("reuse_values", "reset_values")

OPTION_ROWS: list[OptionRow] = [
    ("spec.timeout", {"timeout": "7m"}, "install", lambda r: r.timeout, timedelta(minutes=7)),
    ("spec.maxHistory", {"maxHistory": 3}, "upgrade", lambda r: r.max_history, 3),
    (
        "spec.waitStrategy.name",
        {"waitStrategy": {"name": "legacy"}},
        "install",
        lambda r: r.wait_strategy,
        "legacy",
    ),
    (
        "spec.waitStrategy.name",
        {"waitStrategy": {"name": "poller"}},
        "upgrade",
        lambda r: r.wait_strategy,
        "watcher",
    ),
    (
        "spec.postRenderStrategy",
        {"postRenderStrategy": "separate"},
        "install",
        lambda r: r.post_render_strategy,
        "separate",
    ),
    (
        "spec.commonMetadata.labels",
        {"commonMetadata": {"labels": {"team": "a"}}},
        "install",
        lambda r: r.common_metadata.labels,
        {"team": "a"},
    ),
    (
        "spec.commonMetadata.annotations",
        {"commonMetadata": {"annotations": {"a": "b"}}},
        "upgrade",
        lambda r: r.common_metadata.annotations,
        {"a": "b"},
    ),
    (
        "spec.postRenderers[].kustomize.patches[].patch",
        {"postRenderers": [{"kustomize": {"patches": [{"patch": PATCH}]}}]},
        "install",
        lambda r: r.post_renderers[0].kustomize.patches[0].patch,
        PATCH,
    ),
    (
        "spec.postRenderers[].kustomize.patches[].target",
        {
            "postRenderers": [
                {"kustomize": {"patches": [{"patch": PATCH, "target": TARGET_SELECTOR}]}}
            ]
        },
        "upgrade",
        lambda r: (
            r.post_renderers[0]
            .kustomize.patches[0]
            .target.model_dump(by_alias=True, exclude_none=True)
        ),
        TARGET_SELECTOR,
    ),
    (
        "spec.postRenderers[].kustomize.images[]",
        {"postRenderers": [{"kustomize": {"images": [IMAGE]}}]},
        "install",
        lambda r: (
            r.post_renderers[0].kustomize.images[0].model_dump(by_alias=True, exclude_none=True)
        ),
        IMAGE,
    ),
    _option("spec.install.serverSideApply", False, SSA, (False, False)),
    (
        "spec.install.timeout",
        {"timeout": "9m", "install": {"timeout": "2m"}},
        "install",
        lambda r: r.timeout,
        timedelta(minutes=2),
    ),
    _option("spec.install.crds", "CreateReplace", "crds", "CreateReplace"),
    # Flux v1.6 ignores skipCRDs too (Helm's own SkipCRDs is always set; `crds` decides).
    (
        "spec.install.skipCRDs",
        {"install": {"skipCRDs": True}},
        "install",
        lambda r: r.crds,
        "Create",
    ),
    ("spec.upgrade.crds", {"upgrade": {"crds": "Skip"}}, "upgrade", lambda r: r.crds, "Skip"),
    _option("spec.upgrade.force", True, "force", True, serverSideApply="disabled"),
    _option("spec.upgrade.preserveValues", True, REUSE, (True, False)),
    _option("spec.upgrade.serverSideApply", "enabled", SSA, ("true", True)),
    _option("spec.upgrade.timeout", "3m", "timeout", timedelta(minutes=3)),
    _option("spec.rollback.force", True, "force", True, serverSideApply="disabled"),
    # Deprecated and without effect in helm-controller v1.6 (Helm 4 removed it): the same.
    (
        "spec.rollback.recreate",
        {"rollback": {"recreate": True}},
        "rollback",
        lambda r: r == options.rollback(release(), TARGET, 1),
        True,
    ),
    _option("spec.rollback.serverSideApply", "disabled", SSA, ("false", False)),
    _option("spec.rollback.timeout", "4m", "timeout", timedelta(minutes=4)),
    _option("spec.uninstall.deletionPropagation", "orphan", "deletion_propagation", "orphan"),
    _option("spec.uninstall.timeout", "1m", "timeout", timedelta(minutes=1)),
    (
        "spec.test.filters[]",
        {"test": {"enable": True, "filters": [{"name": "smoke", "exclude": True}]}},
        "test",
        lambda r: [(f.name, f.exclude) for f in r.filters],
        [("smoke", True)],
    ),
    (
        "spec.test.timeout",
        {"test": {"enable": True, "timeout": "90s"}},
        "test",
        lambda r: r.timeout,
        timedelta(seconds=90),
    ),
]

# spec.<action>.<switch>: true, and the attribute of that action's request it makes true...
TURNED_ON: dict[str, str] = {
    "spec.install.createNamespace": "create_namespace",
    "spec.install.disableHooks": "disable_hooks",
    "spec.install.disableOpenAPIValidation": "disable_open_api_validation",
    "spec.install.disableSchemaValidation": "disable_schema_validation",
    "spec.install.replace": "replace",
    "spec.upgrade.cleanupOnFail": "cleanup_on_fail",
    "spec.upgrade.disableHooks": "disable_hooks",
    "spec.upgrade.disableOpenAPIValidation": "disable_open_api_validation",
    "spec.upgrade.disableSchemaValidation": "disable_schema_validation",
    "spec.rollback.cleanupOnFail": "cleanup_on_fail",
    "spec.rollback.disableHooks": "disable_hooks",
    "spec.uninstall.disableHooks": "disable_hooks",
    "spec.uninstall.keepHistory": "keep_history",
}

# ... or false.
TURNED_OFF: dict[str, str] = {
    "spec.install.disableTakeOwnership": "take_ownership",
    "spec.install.disableWaitForJobs": "wait_for_jobs",
    "spec.upgrade.disableTakeOwnership": "take_ownership",
    "spec.upgrade.disableWaitForJobs": "wait_for_jobs",
    "spec.rollback.disableWaitForJobs": "wait_for_jobs",
}

# spec.<action>.disableWait: true, in each action that waits: Helm's hook-only wait.
NO_WAIT = ("install", "upgrade", "rollback", "uninstall")


def _switch(path: str, attr: str, expected: Any) -> OptionRow:
    """The row of spec.<action>.<switch> set true, read from that action's request."""
    _, action, switch = path.split(".")
    return (path, {action: {switch: True}}, action, attrgetter(attr), expected)


OPTION_ROWS += [_switch(path, attr, True) for path, attr in TURNED_ON.items()]
OPTION_ROWS += [_switch(path, attr, False) for path, attr in TURNED_OFF.items()]
OPTION_ROWS += [_switch(f"spec.{a}.disableWait", "wait_strategy", "hookOnly") for a in NO_WAIT]


@pytest.mark.parametrize(
    ("path", "spec", "op", "get", "expected"),
    OPTION_ROWS,
    ids=[f"{row[0]}-{row[2]}" for row in OPTION_ROWS],
)
def test_release_fields_reach_the_engine_requests(
    path: str, spec: dict[str, Any], op: str, get: Callable[[Any], Any], expected: Any
) -> None:
    """Each field, set, changes the engine request as Flux sets Helm's action; unset, it does
    not (Flux's defaults)."""
    assert get(_request(op, release(**spec))) == expected, path
    if path in SAME_AS_THE_DEFAULT:
        return
    try:
        default = get(_request(op, release()))
    except (AttributeError, IndexError):
        return  # unset, the request has no such part at all
    assert default != expected, f"{path}: the default is the same"


SAME_AS_THE_DEFAULT = ("spec.rollback.recreate", "spec.install.skipCRDs", "spec.waitStrategy.name")


def test_release_fields_reach_the_release_plan() -> None:
    """Remediation, strategies, tests and drift as the pure plan takes them, with Flux's
    defaults (an upgrade with retries remediates its last failure unless told not to)."""
    hr = release(
        install={
            "remediation": {"retries": 2, "remediateLastFailure": True, "ignoreTestFailures": True},
            "strategy": {"name": "RetryOnFailure", "retryInterval": "45s"},
        },
        upgrade={
            "remediation": {"retries": 3, "strategy": "uninstall"},
            "strategy": {"name": "RetryOnFailure", "retryInterval": "20s"},
        },
        driftDetection={"mode": "enabled"},
        test={"enable": True, "ignoreFailures": False},
    )
    ctx = inputs.context(hr, False, RollbackTarget.OK)
    assert (ctx.install.retries, ctx.install.remediate_last_failure) == (2, True)
    assert ctx.install.strategy is Strategy.RETRY_ON_FAILURE
    assert (ctx.upgrade.retries, ctx.upgrade.remediate_last_failure) == (3, True)
    assert ctx.upgrade.remediation is Remediation.UNINSTALL
    assert ctx.upgrade.strategy is Strategy.RETRY_ON_FAILURE
    assert ctx.drift_correct
    assert inputs.retry_interval(hr) == 20.0
    hr.status = HelmReleaseStatus.model_validate({"lastAttemptedReleaseAction": "install"})
    assert inputs.retry_interval(hr) == 45.0
    assert hr.ignore_test_failures(), "install.remediation.ignoreTestFailures wins"
    plain = inputs.context(
        release(upgrade={"remediation": {"retries": 1}}), False, RollbackTarget.OK
    )
    assert (plain.install.retries, plain.install.remediate_last_failure) == (0, False)
    assert plain.upgrade.remediate_last_failure, "Flux's default with retries"
    assert plain.upgrade.remediation is Remediation.ROLLBACK
    off = release(upgrade={"remediation": {"retries": 1, "remediateLastFailure": False}})
    assert not inputs.context(off, False, RollbackTarget.OK).upgrade.remediate_last_failure
    upgrade_ignores = release(
        test={"enable": True}, upgrade={"remediation": {"ignoreTestFailures": True}}
    )
    upgrade_ignores.status = HelmReleaseStatus.model_validate(
        {"lastAttemptedReleaseAction": "upgrade"}
    )
    assert upgrade_ignores.ignore_test_failures()
    assert release(test={"enable": True, "ignoreFailures": True}).ignore_test_failures()
    assert not inputs.context(release(), False, RollbackTarget.OK).drift_correct


# The drift tests' Deployment web in apps (labels app=web), annotated tier=front.
DEPLOY: dict[str, Any] = copy.deepcopy(WEB)
DEPLOY["metadata"]["annotations"] = {"tier": "front"}


@pytest.mark.parametrize(
    ("target", "ignored"),
    [
        (None, True),
        ({"group": "apps", "version": "v1", "kind": "Deployment"}, True),
        ({"group": "batch"}, False),
        ({"version": "v2"}, False),
        ({"kind": "StatefulSet"}, False),
        ({"name": "we.*", "namespace": "apps"}, True),
        ({"namespace": "other"}, False),
        ({"labelSelector": "app=web"}, True),
        ({"labelSelector": "app=api"}, False),
        ({"annotationSelector": "tier=front"}, True),
        ({"annotationSelector": "tier=back"}, False),
    ],
)
def test_drift_ignore_rules_from_the_spec(target: dict[str, str] | None, ignored: bool) -> None:
    rule: dict[str, Any] = {"paths": ["/spec/replicas"]}
    if target is not None:
        rule["target"] = target
    hr = release(driftDetection={"mode": "enabled", "ignore": [rule]})
    live = copy.deepcopy(DEPLOY)
    live["spec"]["replicas"] = 5
    change = compare(DEPLOY, live, inputs.ignore_rules(hr))
    assert (change.type is ChangeType.NONE) is ignored, change


def test_health_check_exprs_from_the_spec() -> None:
    check = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "current": "status.ready",
        "inProgress": "status.pending",
        "failed": "status.broken",
    }
    hr = release(healthCheckExprs=[check])
    [got] = inputs.health_checks(hr)
    assert (got.api_version, got.kind) == ("example.com/v1", "Widget")
    assert (got.current, got.in_progress, got.failed) == (
        "status.ready",
        "status.pending",
        "status.broken",
    )
    waitless = release(healthCheckExprs=[check], install={"disableWait": True})
    assert inputs.health_checks(waitless, Action.INSTALL) == [], (
        "as in Flux, nothing is checked when the action does not wait"
    )


def test_chart_template_fields_reach_the_helm_chart() -> None:
    """The HelmChart made for spec.chart carries the template's fields as Flux's does: the
    sourceRef's kind and name (its namespace is where the HelmChart lives; its apiVersion is
    not copied), the chart interval (the release's when unset) and verify."""
    copied = {  # the template's fields the HelmChart's spec has as they are
        "chart": "podinfo",
        "version": "6.x",
        "interval": "2m",
        "reconcileStrategy": "Revision",
        "valuesFiles": ["values.yaml", "values-prod.yaml"],
        "ignoreMissingValuesFiles": True,
    }
    verify = {"provider": "cosign", "secretRef": {"name": "keys"}}
    hr = release(
        chart={
            "metadata": {"labels": {"team": "a"}, "annotations": {"note": "n"}},
            "spec": {
                **copied,
                "sourceRef": {
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "name": "repo",
                    "namespace": "shared",
                },
                "verify": verify,
            },
        }
    )
    chart = desired_chart(hr)
    assert chart["metadata"] == {
        "name": "apps-app",
        "namespace": "shared",
        "labels": {"team": "a"},
        "annotations": {"note": "n"},
    }
    assert chart["spec"] == {
        **copied,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
        "verify": verify,
    }
    assert desired_chart(release())["spec"]["interval"] == "5m"


def _sharded(shard: str | None, labels: dict[str, str] | None = None) -> HelmRelease:
    raw = release_object()
    if labels is not None:
        raw["spec"]["chart"]["metadata"] = {"labels": labels}
    if shard is not None:
        raw["metadata"]["labels"] = {SHARD_LABEL: shard, "team": "a"}
    hr = api.parse(raw)
    assert isinstance(hr, HelmRelease)
    return hr


def test_the_release_shard_label_reaches_the_helm_chart() -> None:
    """The HelmChart of a release in a shard is in that shard (its source controller is the
    release's), unless the template puts it elsewhere; no other label of the release is
    copied. Leaving the shard drops the label the apply gave the chart."""
    chart = desired_chart(_sharded("shard1"))
    assert chart["metadata"]["labels"] == {SHARD_LABEL: "shard1"}
    chart = desired_chart(_sharded("shard1", {"app": "x"}))
    assert chart["metadata"]["labels"] == {"app": "x", SHARD_LABEL: "shard1"}
    chart = desired_chart(_sharded("shard1", {SHARD_LABEL: "shard2"}))
    assert chart["metadata"]["labels"] == {SHARD_LABEL: "shard2"}
    assert "labels" not in desired_chart(_sharded(None))["metadata"]
    unsharded = desired_chart(_sharded(None))
    in_shard1 = copy.deepcopy(unsharded)
    in_shard1["metadata"]["labels"] = {SHARD_LABEL: "shard1"}
    assert already_applied(in_shard1, desired_chart(_sharded("shard1")))
    assert not already_applied(in_shard1, unsharded)
    assert not already_applied(unsharded, desired_chart(_sharded("shard1")))
    by_ref = release(
        chart=None,
        chartRef={
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "name": "app",
            "namespace": "shared",
        },
    )
    assert source_of(by_ref) == ("OCIRepository", "shared/app")


async def test_a_chart_ref_to_an_external_artifact_is_not_used(pipeline: Pipeline) -> None:
    """Helmward reads no ExternalArtifact: the release says so, Ready=False ArtifactFailed and
    Stalled until the spec changes, and runs no Helm action (helm-controller v1.6 would install
    its artifact)."""
    ref = {"kind": "ExternalArtifact", "name": "generated"}
    pipeline.store(with_finalizer(without_chart(release_object(), chartRef=ref)))

    await pipeline.reconciler().reconcile(KEY)

    ready = pipeline.conditions()["Ready"]
    assert ready == ("False", "ArtifactFailed", "chartRef kind ExternalArtifact is not supported")
    assert pipeline.conditions()["Stalled"] == (
        "True",
        "ArtifactFailed",
        "chartRef kind ExternalArtifact is not supported",
    )
    assert pipeline.lib.calls == []
