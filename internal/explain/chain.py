"""The chain of causes, walked in order; the first that holds is the answer. Pure.

1. suspended;
   (then nothing blocks when Ready holds at the current generation and storage is not pending);
2. the chart source missing or failing, reported at the deepest failing link
   (HelmRelease -> HelmChart -> HelmRepository | GitRepository | Bucket, or the chartRef);
3. the chart artifact missing, or not fetched or loaded;
4. a dependsOn cycle the release is part of, else
5. the first dependency that is not ready, with that dependency's own answer;
6. the release locked in a pending-* status in Helm storage;
7. values that cannot be composed (the reference, never the value);
8. the last Helm action failed, with the hook or test pods, their exit codes and events;
9. a health check failed, with its expression;
10. stalled: retries exhausted (and what resets them), or a stall of another reason.

Whatever is left is the Ready condition as the controller wrote it (NOT_READY). docs/why.md
has the table of what each step reads.

A stall after a failure that Ready still reports is explained by the failure (8, 9), the stall
and its reset listed under it; a stall after a successful remediation, or for another reason,
is explained as the stall (10).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from api.helmrelease import HelmRelease
from api.kustomize import CustomHealthCheck
from api.meta import Condition, ConditionStatus
from internal.dag.graph import describe_cycle
from internal.explain.answer import Answer, Cause
from internal.explain.facts import (
    HEALTH_CHECK_FAILED,
    READY,
    RECONCILING,
    REMEDIATED,
    STALLED,
    Facts,
    Link,
    Pod,
    Ref,
    chart_source,
    failed_action,
    storage,
)
from internal.release import approval as gate
from internal.release.state import PENDING_STATUSES

FETCH_FAILED = "FetchFailed"
MESSAGE_LINES = 8
"""Lines of a condition message shown, besides the Helm logs."""
HELM_LOGS = "Last Helm logs:"
"""Where the controller appends the last lines Helm logged to a failed action's message."""
LOG_LINES = 3
"""Lines of those logs shown, the last."""
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)\s+")
EVENTS = 5
"""Events shown per pod, the newest."""

Step = Callable[[Facts], Answer | None]


def explain(facts: Facts) -> Answer:
    """The first cause in the chain that holds, else the Ready condition as written."""
    for step in STEPS:
        answer = step(facts)
        if answer is not None:
            return answer
    return not_ready(facts)


def not_found(kind: str, namespace: str, name: str) -> Answer:
    return Answer(
        kind,
        namespace,
        name,
        Cause.NOT_FOUND,
        f"{kind} {namespace}/{name} does not exist",
        hint=f"helmward get helmreleases -n {namespace}",
    )


def invalid(namespace: str, name: str, problems: Sequence[tuple[str, str]]) -> Answer:
    """A HelmRelease the models reject (the controller stalls it with InvalidSpec)."""
    first = f"{problems[0][0]}: {problems[0][1]}" if problems else "invalid"
    return Answer(
        "HelmRelease",
        namespace,
        name,
        Cause.INVALID,
        f"HelmRelease {namespace}/{name} is invalid: {first}",
        tuple(f"{path}: {problem}" for path, problem in problems[1:]),
        hint=f"kubectl -n {namespace} edit helmrelease {name}",
    )


# The steps.


def suspended(f: Facts) -> Answer | None:
    if not f.release.spec.suspend:
        return None
    evidence = ["spec.suspend is true: not reconciled, its status is as last written"]
    ready = f.condition(READY)
    if ready is not None:
        evidence.extend(condition_lines(str(f.ref), ready))
    return _answer(f, Cause.SUSPENDED, f"{f.ref} is suspended", evidence, _cmd("resume", f))


def ready(f: Facts) -> Answer | None:
    c = f.condition(READY)
    if c is None or c.status is not ConditionStatus.TRUE or not _observed(f.release):
        return None
    if f.stored is not None and f.stored.status in PENDING_STATUSES:
        return None
    head = first_line(c.message)
    return _answer(f, Cause.READY, f"{f.ref} is Ready" + (f": {head}" if head else ""), [])


def sources(f: Facts) -> Answer | None:
    ready_c = f.condition(READY)
    if ready_c is not None and ready_c.reason == "AccessDenied":
        denied = condition_lines(str(f.ref), ready_c)
        summary = f"{f.ref}: source {_denied(f)} may not be used from namespace {f.ref.namespace}"
        return _answer(f, Cause.SOURCE, summary, denied, _cmd("tree", f))
    if not f.sources:
        return None
    chart = f.sources[0]
    problem = link_problem(chart, chart=True)
    if problem is None:
        return None
    culprit = chart
    for link in f.sources[1:]:
        deeper = link_problem(link, chart=False)
        if deeper is not None:
            culprit, problem = link, deeper
    evidence: list[str] = []
    if ready_c is not None and ready_c.reason == "SourceNotReady":
        evidence.extend(condition_lines(str(f.ref), ready_c))
    for link in f.sources:
        evidence.extend(link_lines(link))
    if culprit.obj is None:
        generated = culprit is chart and f.release.spec.chart is not None
        hint = _cmd("reconcile", f) if generated else _cmd("tree", f)
        if generated:
            evidence.append("the controller makes it from spec.chart on its next reconcile")
    else:
        hint = _cmd("reconcile", f, "--with-source")
    return _answer(f, Cause.SOURCE, f"{f.ref}: source {culprit.ref} {problem}", evidence, hint)


def artifact(f: Facts) -> Answer | None:
    chart = f.sources[0] if f.sources else Link(chart_source(f.release), None)
    ready_c = f.condition(READY)
    obj = chart.obj
    got = obj.status.artifact if obj is not None and obj.status is not None else None
    if obj is not None and got is None:
        evidence = link_lines(chart)
        summary = f"{f.ref}: source {chart.ref} has no artifact"
        return _answer(f, Cause.ARTIFACT, summary, evidence, _cmd("reconcile", f, "--with-source"))
    if ready_c is None or ready_c.status is ConditionStatus.TRUE:
        return None
    if ready_c.reason != "ArtifactFailed":
        return None
    message = ready_c.message
    if "not supported" in message:
        what = "cannot be used"
    elif "could not load chart" in message:
        what = "cannot be loaded"
    else:
        what = "cannot be fetched"
    evidence = condition_lines(str(f.ref), ready_c)
    if got is not None:
        evidence.append(f"{chart.ref}: artifact revision {got.revision}, digest {got.digest}")
        evidence.append(INDENTED + f"url {got.url}")
    summary = f"{f.ref}: the artifact of {chart.ref} {what}"
    return _answer(f, Cause.ARTIFACT, summary, evidence, _cmd("reconcile", f, "--with-source"))


def dependencies(f: Facts) -> Answer | None:
    if f.cycle:
        cycle = list(f.cycle)
        evidence = [
            f"{a} depends on {b}" for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True)
        ]
        stalled_c = f.condition(STALLED)
        if stalled_c is not None and stalled_c.reason == "DependencyCycle":
            evidence.extend(condition_lines(str(f.ref), stalled_c))
        evidence.append("editing the dependsOn of any member re-evaluates it")
        summary = f"{f.ref} is in a dependency cycle: {describe_cycle(cycle)}"
        return _answer(f, Cause.CYCLE, summary, evidence, _cmd("tree", f))
    waiting = [d for d in f.dependencies if not d.ready]
    if not waiting:
        return None
    dep = waiting[0]
    others = [f"also waiting for HelmRelease {d.key}" for d in waiting[1:]]
    if dep.release is None and dep.answer is None:
        summary = f"{f.ref}: dependency HelmRelease {dep.key} does not exist"
        return _answer(f, Cause.DEPENDENCY, summary, others, _cmd("tree", f))
    summary = f"{f.ref}: dependency HelmRelease {dep.key} is not ready"
    evidence = [] if dep.answer is not None and not dep.answer.ready else [dep.message]
    nested = dep.answer if dep.answer is not None and not dep.answer.ready else None
    ns, _, name = dep.key.partition("/")
    hint = nested.hint if nested is not None and nested.hint else f"helmward why {name} -n {ns}"
    return Answer(
        f.ref.kind,
        f.ref.namespace,
        f.ref.name,
        Cause.DEPENDENCY,
        summary,
        tuple([*evidence, *others]),
        hint,
        nested,
    )


def locked(f: Facts) -> Answer | None:
    stored = f.stored
    if stored is None or stored.status not in PENDING_STATUSES:
        return None
    ns, release = storage(f.release)
    summary = (
        f"{f.ref}: Helm release {ns}/{release} is locked in {stored.status} "
        f"(revision {stored.version})"
    )
    evidence = [f"Helm storage: Secret {stored.secret.key} has status {stored.status}"]
    running = f.condition(RECONCILING)
    if (
        running is not None
        and running.status is ConditionStatus.TRUE
        and running.message.startswith("Running '")
    ):
        evidence.append(f"the controller is running it: {first_line(running.message)}")
        evidence.append(INDENTED + "the lock is released when the action ends or times out")
        hint = _cmd("events", f)
    else:
        evidence.append("no action of the controller holds it: a crash or another Helm client")
        evidence.append("left it, and the next reconcile marks it failed and remediates it")
        hint = _cmd("reconcile", f)
    return _answer(f, Cause.LOCKED, summary, evidence, hint)


_VALUES = re.compile(
    r"could not resolve (?P<kind>\w+) chart values reference '(?P<ref>[^']+)' "
    r"with key '(?P<key>[^']*)': (?P<why>[^:]+)"
)


def values(f: Facts) -> Answer | None:
    c = f.condition(READY)
    if c is None or c.status is ConditionStatus.TRUE or c.reason != "ValuesError":
        return None
    evidence = condition_lines(str(f.ref), c)
    m = _VALUES.search(c.message)
    if m is None:
        summary = f"{f.ref}: values cannot be composed: {first_line(c.message)}"
        return _answer(f, Cause.VALUES, summary, evidence, _cmd("events", f))
    kind, ref, key, why = m.group("kind", "ref", "key", "why")
    ns, _, name = ref.partition("/")
    for i, v in enumerate(f.release.spec.values_from or []):
        if v.kind.value == kind and v.name == name and v.key() == key:
            extra = f", targetPath {v.target_path}" if v.target_path else ""
            extra += ", optional" if v.optional else ""
            evidence.insert(0, f"spec.valuesFrom[{i}]: {kind} {name}, key {key}{extra}")
            break
    summary = f"{f.ref}: values cannot be composed: {kind} {ref} (key {key}): {why.strip()}"
    noun = "secret generic" if kind == "Secret" else "configmap"
    if why.strip() == "resource not found":
        hint = f"kubectl -n {ns} create {noun} {name} --from-file={key}=<file>"
    else:
        hint = f"kubectl -n {ns} describe {kind.lower()} {name}"
    return _answer(f, Cause.VALUES, summary, evidence, hint)


def awaiting_approval(f: Facts) -> Answer | None:
    """The approval gate holds the next action (`helmward.io/approval: required`)."""
    c = f.condition(READY)
    if c is None or c.status is ConditionStatus.TRUE or c.reason != gate.AWAITING:
        return None
    plan = gate.parse(c.message)
    what = f"plan {plan.digest} ({plan.summary})" if plan else "a plan"
    summary = f"{f.ref}: the next action awaits approval of {what}"
    hint = f"helmward approve {f.ref.name} -n {f.ref.namespace}"
    return _answer(f, Cause.APPROVAL, summary, condition_lines(str(f.ref), c), hint)


def action(f: Facts) -> Answer | None:
    failed = failed_action(f.release)
    if failed is None:
        return None
    verb, c, remediated = failed
    if HEALTH_CHECK_FAILED in c.message or (remediated and _stalled(f)):
        return None
    pod = next((p for p in f.pods if p.failed), None)
    pod = pod or next((p for p in f.pods if p.phase != "Succeeded"), None)
    summary = f"{f.ref}: the last {verb} failed"
    if pod is not None:
        code = pod.exit_code
        if code:
            how = f"exited with code {code}"
        elif pod.failed:
            how = "failed"
        else:
            how = f"did not complete ({pod.phase or 'no phase'})"
        summary += f": {pod.role} pod {pod.ref.key} {how}"
        hint = f"kubectl -n {pod.ref.namespace} logs {pod.ref.name}"
    else:
        hint = _cmd("history", f)
    return _answer(f, Cause.ACTION, summary, failure_lines(f, c, remediated), hint)


def health(f: Facts) -> Answer | None:
    failed = failed_action(f.release)
    if failed is None:
        return None
    _, c, remediated = failed
    at = c.message.find(HEALTH_CHECK_FAILED)
    if at < 0 or (remediated and _stalled(f)):
        return None
    detail = first_line(c.message[at + len(HEALTH_CHECK_FAILED) :])
    summary, evidence, hint = _health_summary(f, detail)
    return _answer(f, Cause.HEALTH, summary, [*evidence, *failure_lines(f, c, remediated)], hint)


def stalled(f: Facts) -> Answer | None:
    c = f.condition(STALLED)
    if c is None or c.status is not ConditionStatus.TRUE:
        return None
    if c.reason == "RetriesExceeded":
        summary = f"{f.ref} is stalled: retries exhausted ({first_line(c.message)})"
        evidence: list[str] = []
        failed = failed_action(f.release)
        if failed is not None:
            evidence.extend(failure_lines(f, failed[1], failed[2], stall=False))
        evidence.append("reset by a change of the spec, the chart or the values, or by:")
        return _answer(f, Cause.STALLED, summary, evidence, _cmd("reconcile", f, "--reset"))
    evidence = condition_lines(str(f.ref), c)
    if c.reason == "MissingRollbackTarget":
        evidence.append("reset by a change of the spec, or by a reset request:")
        hint = _cmd("reconcile", f, "--reset")
    else:
        evidence.append("only a change of the spec clears it")
        hint = f"kubectl -n {f.ref.namespace} edit helmrelease {f.ref.name}"
    return _answer(f, Cause.STALLED, f"{f.ref} is stalled ({c.reason})", evidence, hint)


STEPS: tuple[Step, ...] = (
    suspended,
    ready,
    sources,
    artifact,
    dependencies,
    locked,
    values,
    awaiting_approval,
    action,
    health,
    stalled,
)
"""The chain, in the order its causes are looked for."""

BEFORE_DEPENDENCIES = frozenset({Cause.SUSPENDED, Cause.READY, Cause.SOURCE, Cause.ARTIFACT})
"""Causes found before the dependencies are looked at: with one of these, the dependencies
need not be read."""


def needs_dependencies(answer: Answer) -> bool:
    """Whether an answer found without the dependencies could change once they are read."""
    return answer.cause not in BEFORE_DEPENDENCIES


def not_ready(f: Facts) -> Answer:
    """No cause of the chain holds: what the Ready condition says."""
    c = f.condition(READY)
    generation = f.release.metadata.generation or 0
    if c is None:
        evidence = ["no Ready condition: is a controller watching its namespace?"]
        summary = f"{f.ref} has not been reconciled yet"
        return _answer(f, Cause.NOT_READY, summary, evidence, _cmd("reconcile", f))
    evidence = condition_lines(str(f.ref), c)
    if c.status is ConditionStatus.TRUE:
        summary = f"{f.ref} is reconciling generation {generation}"
    elif c.status is ConditionStatus.UNKNOWN:
        summary = f"{f.ref} is reconciling ({c.reason})"
    else:
        summary = f"{f.ref} is not Ready ({c.reason})"
    return _answer(f, Cause.NOT_READY, summary, evidence, _cmd("events", f))


# Evidence.

INDENTED = "  "


def first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


def condition_lines(subject: str, c: Condition) -> list[str]:
    """`<subject>: <Type>=<Status> <Reason>: <message>`, the message's further lines under it,
    and the last of the Helm logs the controller appended, without their timestamps."""
    text, _, logs = c.message.partition(HELM_LOGS)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = f"{subject}: {c.type}={c.status.value} {c.reason}"
    out = [f"{head}: {lines[0]}" if lines else head]
    out.extend(INDENTED + line for line in lines[1:MESSAGE_LINES])
    if len(lines) > MESSAGE_LINES:
        out.append(INDENTED + f"... {len(lines) - MESSAGE_LINES} more lines")
    logged = [_TIMESTAMP.sub("", line.strip()) for line in logs.splitlines() if line.strip()]
    if logged:
        shown = logged[-LOG_LINES:]
        out.append(INDENTED + f"{HELM_LOGS[:-1]} (the last {len(shown)}):")
        out.extend(INDENTED * 2 + line for line in shown)
    return out


def link_problem(link: Link, *, chart: bool) -> str | None:
    """What keeps a link of the source chain from serving the release, None when nothing does.
    The chart source serves while it has an artifact for its current generation and is not
    stalled, even when a newer fetch fails (as the controller uses it); a source further up
    serves while it is Ready."""
    obj = link.obj
    if link.invalid:
        return f"is invalid ({link.invalid})"
    if obj is None:
        return "does not exist"
    status = obj.status
    conds = status.conditions if status is not None else None
    stalled_c = next((c for c in conds or [] if c.type == STALLED), None)
    if stalled_c is not None and stalled_c.status is ConditionStatus.TRUE:
        return f"is stalled ({stalled_c.reason})"
    ready_c = next((c for c in conds or [] if c.type == READY), None)
    observed = getattr(status, "observed_generation", None) == obj.metadata.generation
    if chart and status is not None and status.artifact is not None and observed:
        return None
    if ready_c is not None and ready_c.status is ConditionStatus.TRUE:
        if chart and not observed:
            return f"has not observed generation {obj.metadata.generation} yet"
        return None
    suspended = " and is suspended" if getattr(obj.spec, "suspend", None) else ""
    fetch = next((c for c in conds or [] if c.type == FETCH_FAILED), None)
    if fetch is not None and fetch.status is ConditionStatus.TRUE:
        return "fails to fetch" + _reason(fetch) + suspended
    if ready_c is None:
        return "has not been reconciled yet" + suspended
    if ready_c.status is ConditionStatus.UNKNOWN:
        return "is not ready yet" + _reason(ready_c) + suspended
    return "is not ready" + _reason(ready_c) + suspended


def _reason(c: Condition) -> str:
    """' (Reason)', unless the reason says no more than that it failed."""
    return "" if c.reason in ("Failed", "") else f" ({c.reason})"


def link_lines(link: Link) -> list[str]:
    obj = link.obj
    if link.invalid:
        return [f"{link.ref}: invalid: {link.invalid}"]
    if obj is None:
        return [f"{link.ref}: not found"]
    conds = obj.status.conditions if obj.status is not None else None
    out: list[str] = []
    for type_ in (READY, STALLED, FETCH_FAILED):
        c = next((x for x in conds or [] if x.type == type_), None)
        if c is None or (type_ != READY and c.status is not ConditionStatus.TRUE):
            continue
        if type_ != READY and out and c.message in out[0]:
            continue
        out.extend(condition_lines(str(link.ref), c))
    if not out:
        out.append(f"{link.ref}: no conditions yet")
    if getattr(obj.spec, "suspend", None):
        out.append(f"{link.ref}: suspended")
    return out


def pod_lines(pod: Pod) -> list[str]:
    out = [f"{pod.role} pod {pod.ref.key}: {pod.phase}"]
    for c in pod.containers:
        line = f"container {c.name}: {c.state}"
        if c.reason:
            line += f" ({c.reason})"
        if c.exit_code is not None:
            line += f", exit code {c.exit_code}"
        if c.message:
            line += f": {first_line(c.message)}"
        out.append(INDENTED + line)
    for e in pod.events[-EVENTS:]:
        times = f" (x{e.count})" if e.count > 1 else ""
        out.append(INDENTED + f"event {e.type} {e.reason}{times}: {first_line(e.message)}")
    return out


def failure_lines(f: Facts, c: Condition, remediated: bool, *, stall: bool = True) -> list[str]:
    """What shows a failed action: its condition, its pods, the remediation that followed, and
    whether the controller tries again."""
    out = condition_lines(str(f.ref), c)
    for pod in sorted(f.pods, key=lambda p: (not p.failed, p.ref)):
        out.extend(pod_lines(pod))
    if f.remote:
        out.append("its pods are in the cluster of spec.kubeConfig: not read")
    if remediated:
        rem = f.condition(REMEDIATED)
        if rem is not None:
            out.extend(condition_lines(str(f.ref), rem))
    stalled_c = f.condition(STALLED)
    if stall and stalled_c is not None and stalled_c.status is ConditionStatus.TRUE:
        out.extend(condition_lines(str(f.ref), stalled_c))
        if stalled_c.reason == "RetriesExceeded":
            reset = _cmd("reconcile", f, "--reset")
            out.append(
                INDENTED + f"not retried before a change of spec, chart or values, or {reset}"
            )
    else:
        running = f.condition(RECONCILING)
        if running is not None and running.reason == "ProgressingWithRetry":
            out.append("the controller retries it (Reconciling=True ProgressingWithRetry)")
    return out


def _health_summary(f: Facts, detail: str) -> tuple[str, list[str], str]:
    """The summary (the object and the expression that decided), the expressions of its check,
    and the command that shows the object."""
    m = re.match(r"(?P<kind>[A-Za-z0-9]+)/(?P<name>[a-z0-9.-]+) failed its health check", detail)
    hr: HelmRelease = f.release
    ns = hr.spec.target_namespace or f.ref.namespace
    if m is None:
        checks = list(hr.spec.health_check_exprs or [])
        return (
            f"{f.ref}: health check failed: {detail}",
            [line for c in checks for line in _check_lines(c)],
            _cmd("events", f),
        )
    kind, name = m.group("kind", "name")
    check = _check_of(hr, kind)
    ref = Ref(kind, ns, name)
    evidence = _check_lines(check) if check is not None else []
    # The controller fails a check only when its `failed` expression held.
    expr = f" (failed: {check.failed})" if check is not None and check.failed else ""
    verb = "describe" if kind == "Secret" else "get"
    tail = "" if kind == "Secret" else " -o yaml"
    hint = f"kubectl -n {ns} {verb} {kind.lower()} {name}{tail}"
    return f"{f.ref}: health check of {ref} failed{expr}", evidence, hint


def _check_of(hr: HelmRelease, kind: str) -> CustomHealthCheck | None:
    checks = hr.spec.health_check_exprs or []
    return next((c for c in checks if c.kind == kind), None) or next(
        (c for c in checks if c.kind is None), None
    )


def _check_lines(c: CustomHealthCheck) -> list[str]:
    out = [f"healthCheckExprs {c.api_version}/{c.kind or '*'}:"]
    for field, expr in (
        ("current", c.current),
        ("inProgress", c.in_progress),
        ("failed", c.failed),
    ):
        if expr:
            out.append(INDENTED + f"{field}: {expr}")
    return out


# Helpers.


def _answer(f: Facts, cause: Cause, summary: str, evidence: list[str], hint: str = "") -> Answer:
    return Answer(f.ref.kind, f.ref.namespace, f.ref.name, cause, summary, tuple(evidence), hint)


def _cmd(verb: str, f: Facts, *flags: str) -> str:
    return " ".join(["helmward", verb, f.ref.name, "-n", f.ref.namespace, *flags])


def _observed(hr: HelmRelease) -> bool:
    observed = hr.status.observed_generation if hr.status else None
    return observed == (hr.metadata.generation or 0) or hr.metadata.generation is None


def _stalled(f: Facts) -> bool:
    c = f.condition(STALLED)
    return c is not None and c.status is ConditionStatus.TRUE


def _denied(f: Facts) -> Ref:
    """The source a cross-namespace refusal is about: the chart template's sourceRef, else
    the chartRef."""
    hr = f.release
    if hr.spec.chart is not None:
        ref = hr.spec.chart.spec.source_ref
        return Ref(ref.kind, ref.namespace or f.ref.namespace, ref.name)
    return chart_source(hr)
