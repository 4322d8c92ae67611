"""internal.explain, pure: the order of the chain (a release with every cause at once, fixed one
cause at a time, answers each cause in turn), and how each step reads its facts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import api
from api.helmrelease import HelmRelease
from api.sources import HelmChart, HelmRepository
from internal.explain import chain
from internal.explain import facts as fx
from internal.explain.answer import Answer, Cause

NS = "apps"
T = "2026-01-01T00:00:00Z"
DIGEST = "sha256:" + "0" * 64


def cond(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": T,
        "observedGeneration": 1,
    }


def release(
    name: str = "web",
    *conditions: dict[str, Any],
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> HelmRelease:
    body = {
        "chart": {
            "spec": {"chart": "demo", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}
        },
        "interval": "5m",
        **spec,
    }
    obj = api.parse(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": NS, "generation": 1},
            "spec": body,
            "status": {"observedGeneration": 1, "conditions": list(conditions), **(status or {})},
        }
    )
    assert isinstance(obj, HelmRelease)
    return obj


def artifact() -> dict[str, Any]:
    return {
        "path": "helmchart/apps/x/demo-1.0.0.tgz",
        "url": "http://storage/helmchart/apps/x/demo-1.0.0.tgz",
        "revision": "1.0.0",
        "digest": DIGEST,
        "lastUpdateTime": T,
    }


def helm_chart(*conditions: dict[str, Any], with_artifact: bool = True) -> fx.Link:
    status: dict[str, Any] = {"observedGeneration": 1, "conditions": list(conditions)}
    if with_artifact:
        status["artifact"] = artifact()
    obj = api.parse(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmChart",
            "metadata": {"name": f"{NS}-web", "namespace": NS, "generation": 1},
            "spec": {
                "chart": "demo",
                "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                "interval": "1m",
            },
            "status": status,
        }
    )
    assert isinstance(obj, HelmChart)
    return fx.Link(fx.Ref("HelmChart", NS, f"{NS}-web"), obj)


def repository(*conditions: dict[str, Any]) -> fx.Link:
    obj = api.parse(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": NS, "generation": 1},
            "spec": {"url": "https://charts.example", "interval": "5m"},
            "status": {"observedGeneration": 1, "conditions": list(conditions)},
        }
    )
    assert isinstance(obj, HelmRepository)
    return fx.Link(fx.Ref("HelmRepository", NS, "charts"), obj)


GOOD_SOURCES = (
    helm_chart(cond("Ready", "True", "ChartPullSucceeded")),
    repository(cond("Ready", "True", "Succeeded")),
)
MISSING_SOURCES = (
    fx.Link(fx.Ref("HelmChart", NS, f"{NS}-web"), None),
    fx.Link(fx.Ref("HelmRepository", NS, "charts"), None),
)


def stored(status: str) -> fx.Stored:
    return fx.Stored(fx.Ref("Secret", NS, "sh.helm.release.v1.web.v2"), 2, status)


def not_ready_dependency() -> fx.Dependency:
    answer = Answer(
        "HelmRelease",
        NS,
        "db",
        Cause.SUSPENDED,
        f"HelmRelease {NS}/db is suspended",
        hint=f"helmward resume db -n {NS}",
    )
    return fx.Dependency(f"{NS}/db", release("db"), False, "not ready", answer)


def test_the_chain_answers_each_cause_in_its_order() -> None:
    """Every cause at once; fixing the first each time walks the chain in order."""
    suspend: dict[str, Any] = {"suspend": True}
    ready: dict[str, Any] = cond(
        "Ready", "False", "ArtifactFailed", "artifact 'x' answered HTTP 404"
    )
    more: list[dict[str, Any]] = []
    facts = fx.Facts(
        release("web", ready, **suspend),
        sources=MISSING_SOURCES,
        stored=stored("pending-upgrade"),
        dependencies=(not_ready_dependency(),),
        cycle=(f"{NS}/web", f"{NS}/other"),
    )
    seen: list[Cause] = []

    def step(**changes: Any) -> None:
        nonlocal facts
        facts = dataclasses.replace(facts, **changes)
        seen.append(chain.explain(facts).cause)

    step()
    step(release=release("web", ready))
    step(sources=GOOD_SOURCES)
    ready = cond(
        "Ready",
        "False",
        "ValuesError",
        "could not resolve Secret chart values reference 'apps/v' with key 'values.yaml': "
        "resource not found",
    )
    step(release=release("web", ready))
    step(cycle=None)
    step(dependencies=())
    step(stored=stored("deployed"))
    ready = cond("Ready", "False", "TestFailed", "Helm test failed for release apps/web")
    step(release=release("web", ready))
    ready = cond(
        "Ready",
        "False",
        "InstallFailed",
        "Helm install failed: health check failed: ConfigMap/web-config failed its health check",
    )
    step(release=release("web", ready))
    more = [
        cond("Stalled", "True", "RetriesExceeded", "Failed to install after 1 attempt(s)"),
        cond("Released", "False", "InstallFailed", "Helm install failed for release apps/web"),
        cond("Remediated", "True", "UninstallSucceeded", "Helm uninstall succeeded"),
    ]
    step(
        release=release(
            "web", cond("Ready", "False", "UninstallSucceeded", "Helm uninstall succeeded"), *more
        )
    )
    step(
        release=release("web", cond("Ready", "Unknown", "Progressing", "Running 'install' action"))
    )
    step(
        release=release("web", cond("Ready", "True", "InstallSucceeded", "Helm install succeeded"))
    )
    assert seen == [
        Cause.SUSPENDED,
        Cause.SOURCE,
        Cause.ARTIFACT,
        Cause.CYCLE,
        Cause.DEPENDENCY,
        Cause.LOCKED,
        Cause.VALUES,
        Cause.ACTION,
        Cause.HEALTH,
        Cause.STALLED,
        Cause.NOT_READY,
        Cause.READY,
    ]


def test_the_steps_are_the_documented_order() -> None:
    assert [s.__name__ for s in chain.STEPS] == [
        "suspended",
        "ready",
        "sources",
        "artifact",
        "dependencies",
        "locked",
        "values",
        "awaiting_approval",
        "action",
        "health",
        "stalled",
    ]
    # The steps before `dependencies` read no dependency: their answers need none read.
    early = {Cause.SUSPENDED, Cause.READY, Cause.SOURCE, Cause.ARTIFACT}
    for cause in Cause:
        answer = Answer("HelmRelease", NS, "x", cause, "s")
        assert chain.needs_dependencies(answer) is (cause not in early)


def test_ready_at_the_current_generation_is_ready_even_with_a_failing_repository() -> None:
    """The chart source still serves its artifact: as the controller, nothing blocks."""
    failing = repository(cond("Ready", "False", "Failed", "failed to fetch index"))
    hr = release("web", cond("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded"))
    answer = chain.explain(fx.Facts(hr, (GOOD_SOURCES[0], failing), stored("deployed")))
    assert answer.ready
    assert answer.render() == [f"HelmRelease {NS}/web is Ready: Helm upgrade succeeded"]


def test_ready_with_storage_left_pending_is_locked() -> None:
    hr = release("web", cond("Ready", "True", "UpgradeSucceeded", "ok"))
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES, stored("pending-rollback")))
    assert answer.cause is Cause.LOCKED
    assert answer.summary == (
        f"HelmRelease {NS}/web: Helm release {NS}/web is locked in pending-rollback (revision 2)"
    )
    assert answer.hint == f"helmward reconcile web -n {NS}"


def test_a_generation_not_observed_is_reconciling_not_ready() -> None:
    hr = release("web", cond("Ready", "True", "InstallSucceeded", "ok"))
    hr.metadata.generation = 2
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert (answer.cause, answer.summary) == (
        Cause.NOT_READY,
        f"HelmRelease {NS}/web is reconciling generation 2",
    )


def test_the_deepest_failing_source_is_the_cause() -> None:
    hr = release("web", cond("Ready", "False", "SourceNotReady", "HelmChart not ready"))
    chart = helm_chart(
        cond("Ready", "False", "NoSourceArtifact", "no artifact"), with_artifact=False
    )
    repo = repository(
        cond("Ready", "False", "Failed", "failed to fetch index: 401"),
        cond("FetchFailed", "True", "AuthenticationFailed", "failed to fetch index: 401"),
    )
    answer = chain.explain(fx.Facts(hr, (chart, repo)))
    assert answer.summary == (
        f"HelmRelease {NS}/web: source HelmRepository {NS}/charts fails to fetch "
        "(AuthenticationFailed)"
    )
    assert answer.evidence[0].startswith(f"HelmRelease {NS}/web: Ready=False SourceNotReady")
    assert answer.hint == f"helmward reconcile web -n {NS} --with-source"


def test_a_chart_source_with_an_old_artifact_does_not_block() -> None:
    """A newer pull fails, the old artifact serves: the answer is further down the chain."""
    hr = release("web", cond("Ready", "False", "UpgradeFailed", "Helm upgrade failed: boom"))
    chart = helm_chart(cond("Ready", "False", "ChartPullError", "no chart version 2.0.0"))
    answer = chain.explain(fx.Facts(hr, (chart, GOOD_SOURCES[1])))
    assert answer.cause is Cause.ACTION
    assert answer.summary == f"HelmRelease {NS}/web: the last upgrade failed"
    assert answer.hint == f"helmward history web -n {NS}"


def test_a_missing_generated_chart_is_made_on_the_next_reconcile() -> None:
    hr = release("web")
    answer = chain.explain(fx.Facts(hr, (MISSING_SOURCES[0], GOOD_SOURCES[1])))
    assert answer.summary == f"HelmRelease {NS}/web: source HelmChart {NS}/{NS}-web does not exist"
    assert answer.hint == f"helmward reconcile web -n {NS}"


def test_a_cross_namespace_refusal_names_the_source() -> None:
    ready = cond("Ready", "False", "AccessDenied", "cross-namespace references are not allowed")
    hr = release(
        "web",
        ready,
        chart={
            "spec": {
                "chart": "demo",
                "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "shared"},
            }
        },
    )
    answer = chain.explain(fx.Facts(hr, MISSING_SOURCES))
    assert answer.summary == (
        f"HelmRelease {NS}/web: source HelmRepository shared/charts may not be used from "
        f"namespace {NS}"
    )


def test_a_dependency_answer_nests_and_lends_its_command() -> None:
    hr = release("web", cond("Ready", "False", "DependencyNotReady", "dependency not ready"))
    missing = fx.Dependency(f"{NS}/cache", None, False, "not found")
    answer = chain.explain(
        fx.Facts(hr, GOOD_SOURCES, dependencies=(not_ready_dependency(), missing))
    )
    assert answer.render() == [
        f"HelmRelease {NS}/web: dependency HelmRelease {NS}/db is not ready",
        f"  HelmRelease {NS}/db is suspended",
        f"  also waiting for HelmRelease {NS}/cache",
        f"  next: helmward resume db -n {NS}",
    ]
    assert answer.to_data()["dependency"]["cause"] == "Suspended"


def test_a_dependency_ready_on_its_own_but_not_by_the_ready_expr() -> None:
    hr = release("web", cond("Ready", "False", "DependencyNotReady", "x"))
    dep_answer = Answer("HelmRelease", NS, "db", Cause.READY, f"HelmRelease {NS}/db is Ready")
    dep = fx.Dependency(
        f"{NS}/db",
        release("db"),
        False,
        "dependency 'apps/db' is not ready according to readyExpr",
        dep_answer,
    )
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES, dependencies=(dep,)))
    assert answer.render() == [
        f"HelmRelease {NS}/web: dependency HelmRelease {NS}/db is not ready",
        "  dependency 'apps/db' is not ready according to readyExpr",
        f"  next: helmward why db -n {NS}",
    ]


def test_a_cycle_is_named_in_dependency_order() -> None:
    hr = release("a", cond("Ready", "False", "DependencyCycle", "x"), dependsOn=[{"name": "b"}])
    edges = {f"{NS}/a": [f"{NS}/b"], f"{NS}/b": [f"{NS}/c"], f"{NS}/c": [f"{NS}/a"]}
    cycle = fx.cycle_of(f"{NS}/a", edges)
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES, cycle=cycle))
    assert answer.summary == (
        f"HelmRelease {NS}/a is in a dependency cycle: {NS}/a -> {NS}/b -> {NS}/c -> {NS}/a"
    )
    assert answer.evidence[:3] == (
        f"{NS}/a depends on {NS}/b",
        f"{NS}/b depends on {NS}/c",
        f"{NS}/c depends on {NS}/a",
    )
    assert fx.cycle_of(f"{NS}/d", {**edges, f"{NS}/d": [f"{NS}/a"]}) is None


def test_values_name_the_reference_and_how_to_make_it() -> None:
    message = (
        "could not resolve ConfigMap chart values reference 'apps/conf' with key 'extra.yaml': "
        "key not found"
    )
    hr = release(
        "web",
        cond("Ready", "False", "ValuesError", message),
        valuesFrom=[
            {"kind": "ConfigMap", "name": "conf", "valuesKey": "extra.yaml", "optional": False}
        ],
    )
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert answer.summary == (
        f"HelmRelease {NS}/web: values cannot be composed: ConfigMap {NS}/conf (key extra.yaml): "
        "key not found"
    )
    assert answer.evidence[0] == "spec.valuesFrom[0]: ConfigMap conf, key extra.yaml"
    assert answer.hint == f"kubectl -n {NS} describe configmap conf"


def test_an_upgrade_held_by_the_approval_gate_names_its_plan_and_the_approve_command() -> None:
    digest = "sha256:" + "5" * 64
    message = (
        f"Helm upgrade awaits approval of plan {digest} (+0 ~1 -0) for release {NS}/web with "
        f"chart demo@1.0.0; approve it with 'helmward approve -n {NS} web'"
    )
    hr = release("web", cond("Ready", "False", "AwaitingApproval", message))
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert answer.cause is Cause.APPROVAL
    assert answer.summary == (
        f"HelmRelease {NS}/web: the next action awaits approval of plan {digest} (+0 ~1 -0)"
    )
    assert answer.hint == f"helmward approve web -n {NS}"


def test_a_failed_test_names_its_pod_exit_code_and_events() -> None:
    message = "\n".join(
        [
            "Helm test failed for release apps/web with chart demo@1.0.0: "
            "resource Pod/apps/web-test not ready",
            "",
            "Last Helm logs:",
            "",
            "2026-01-01T00:00:00.000Z DEBUG one",
            "2026-01-01T00:00:00.100Z DEBUG two",
            "2026-01-01T00:00:00.200Z INFO three",
            "2026-01-01T00:00:00.300Z INFO four",
        ]
    )
    hr = release("web", cond("Ready", "False", "TestFailed", message))
    pod = fx.Pod(
        fx.Ref("Pod", NS, "web-test"),
        "test",
        "Failed",
        (fx.Container("t", "terminated", "Error", 2),),
        (fx.Event("Warning", "BackOff", "Back-off restarting", 3),),
    )
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES, pods=(pod,)))
    assert answer.render() == [
        f"HelmRelease {NS}/web: the last test failed: test pod {NS}/web-test exited with code 2",
        f"  HelmRelease {NS}/web: Ready=False TestFailed: {message.splitlines()[0]}",
        "    Last Helm logs (the last 3):",
        "      DEBUG two",
        "      INFO three",
        "      INFO four",
        f"  test pod {NS}/web-test: Failed",
        "    container t: terminated (Error), exit code 2",
        "    event Warning BackOff (x3): Back-off restarting",
        f"  next: kubectl -n {NS} logs web-test",
    ]


def test_pods_to_read_come_from_the_test_hooks_and_the_message() -> None:
    message = (
        "Helm install failed: failed post-install: resource Pod/apps/web-hook not ready; "
        "job web-migrate failed"
    )
    history = [
        {
            "digest": DIGEST,
            "name": "web",
            "namespace": NS,
            "version": 1,
            "status": "deployed",
            "chartName": "demo",
            "chartVersion": "1.0.0",
            "configDigest": DIGEST,
            "firstDeployed": T,
            "lastDeployed": T,
            "testHooks": {"web-test": {"phase": "Failed"}, "web-ok": {"phase": "Succeeded"}},
        }
    ]
    hr = release(
        "web", cond("Ready", "False", "InstallFailed", message), status={"history": history}
    )
    assert fx.pods_to_read(hr) == [
        (fx.Ref("Pod", NS, "web-hook"), "hook"),
        (fx.Ref("Job", NS, "web-migrate"), "hook"),
    ]
    hr = release(
        "web", cond("Ready", "False", "TestFailed", "Helm test failed"), status={"history": history}
    )
    assert fx.pods_to_read(hr) == [(fx.Ref("Pod", NS, "web-test"), "test")]
    assert fx.pods_to_read(release("web", cond("Ready", "True", "InstallSucceeded"))) == []


def test_a_health_check_names_its_failed_expression() -> None:
    checks = [
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "current": "status.ok",
            "failed": "status.broken",
        }
    ]
    message = (
        "Helm upgrade failed for release apps/web with chart demo@1.1.0: "
        "health check failed: Widget/big failed its health check"
    )
    hr = release("web", cond("Ready", "False", "UpgradeFailed", message), healthCheckExprs=checks)
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert answer.summary == (
        f"HelmRelease {NS}/web: health check of Widget {NS}/big failed (failed: status.broken)"
    )
    assert answer.evidence[:3] == (
        "healthCheckExprs example.com/v1/Widget:",
        "  current: status.ok",
        "  failed: status.broken",
    )
    assert answer.hint == f"kubectl -n {NS} get widget big -o yaml"


def test_a_remediated_failure_still_retrying_is_the_failed_action() -> None:
    hr = release(
        "web",
        cond("Ready", "False", "RollbackSucceeded", "Helm rollback succeeded"),
        cond("Reconciling", "True", "ProgressingWithRetry", "x"),
        cond("Released", "False", "UpgradeFailed", "Helm upgrade failed: boom"),
        cond("Remediated", "True", "RollbackSucceeded", "Helm rollback to 1 succeeded"),
    )
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert answer.cause is Cause.ACTION
    assert answer.summary == f"HelmRelease {NS}/web: the last upgrade failed"
    assert (
        f"HelmRelease {NS}/web: Remediated=True RollbackSucceeded: Helm rollback to 1 succeeded"
        in answer.evidence
    )
    assert "the controller retries it (Reconciling=True ProgressingWithRetry)" in answer.evidence


def test_a_stall_of_another_reason_needs_a_spec_change() -> None:
    message = "healthCheckExprs v1/ConfigMap current 'data.(' does not compile"
    hr = release(
        "web",
        cond("Ready", "False", "InvalidHealthCheck", message),
        cond("Stalled", "True", "InvalidHealthCheck", message),
    )
    answer = chain.explain(fx.Facts(hr, GOOD_SOURCES))
    assert answer.summary == f"HelmRelease {NS}/web is stalled (InvalidHealthCheck)"
    assert answer.hint == f"kubectl -n {NS} edit helmrelease web"


@pytest.mark.parametrize(
    ("conditions", "summary"),
    [
        ((), f"HelmRelease {NS}/web has not been reconciled yet"),
        (
            (cond("Ready", "Unknown", "Progressing", "Running 'install' action"),),
            f"HelmRelease {NS}/web is reconciling (Progressing)",
        ),
        (
            (cond("Ready", "False", "RESTClientError", "no kubeconfig"),),
            f"HelmRelease {NS}/web is not Ready (RESTClientError)",
        ),
    ],
)
def test_what_no_cause_explains_is_the_ready_condition(
    conditions: tuple[dict[str, Any], ...], summary: str
) -> None:
    answer = chain.explain(fx.Facts(release("web", *conditions), GOOD_SOURCES))
    assert (answer.cause, answer.summary) == (Cause.NOT_READY, summary)


def test_absent_and_invalid_releases() -> None:
    assert chain.not_found("HelmRelease", NS, "x").render() == [
        f"HelmRelease {NS}/x does not exist",
        f"  next: helmward get helmreleases -n {NS}",
    ]
    answer = chain.invalid(NS, "x", [("spec.interval", "bad duration"), ("spec.timeout", "bad")])
    assert answer.render()[:2] == [
        f"HelmRelease {NS}/x is invalid: spec.interval: bad duration",
        "  spec.timeout: bad",
    ]


def test_what_to_read_for_a_release() -> None:
    hr = release("web", storageNamespace="helm", targetNamespace="prod")
    assert fx.chart_source(hr) == fx.Ref("HelmChart", NS, f"{NS}-web")
    assert fx.upstream(hr, None) == fx.Ref("HelmRepository", NS, "charts")
    assert fx.storage(hr) == ("helm", "prod-web")
    ref = release(
        "web", chartRef={"kind": "OCIRepository", "name": "oci", "namespace": "src"}, chart=None
    )
    assert fx.chart_source(ref) == fx.Ref("OCIRepository", "src", "oci")
    assert fx.upstream(ref, None) is None
