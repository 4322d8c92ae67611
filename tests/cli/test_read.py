"""`get`, `tree`, `events` and `history` against one staged fleet and one real controller: base
<- app <- front by dependsOn, app upgraded once (two Helm revisions), broken waiting on a
release that does not exist, and a HelmRepository that cannot be reached. Tables are golden
(tests/cli/golden), exit codes exact."""

from __future__ import annotations

import json

import pytest
import yaml

from hack.testkit.kube import create_helm_repository
from hack.testkit.wait import eventually
from internal.kube.resources import HELM_REPOSITORIES
from tests.cli.conftest import Cli, release, run_cli, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def fleet(cli_harness: Cli) -> Cli:
    cli = cli_harness
    h = cli.h
    # The repository has its index before any chart asks for it, so no chart waits (and no
    # NoSourceArtifact event makes the events differ between runs).
    await wait_ready(h, HELM_REPOSITORIES, "charts")
    await h.apply_release("base", release(h))
    await h.wait("base", "Ready", "True")
    await h.apply_release("app", release(h, dependsOn=[{"name": "base"}]))
    await h.apply_release("front", release(h, dependsOn=[{"name": "app"}]))
    await h.apply_release("broken", release(h, dependsOn=[{"name": "missing"}]))
    await h.wait("front", "Ready", "True")
    await h.wait("broken", "Ready", "False", reason="DependencyNotReady")
    await h.apply_release("app", release(h, "1.1.0", dependsOn=[{"name": "base"}]))
    await h.wait("app", "Ready", "True", reason="UpgradeSucceeded")
    await _unreachable_repository(cli)
    return cli


async def _unreachable_repository(cli: Cli) -> None:
    await create_helm_repository(cli.h.kube, cli.namespace, "http://127.0.0.1:1", name="nowhere")

    async def failed() -> bool:
        r = await cli("get", "helmrepository", "nowhere", "-o", "json")
        return bool(r.out) and json.loads(r.out)[0]["message"] != "waiting to be reconciled"

    await eventually(failed, within=60, what="HelmRepository nowhere failed")


async def test_get_helmreleases_is_not_ready_while_one_is_not(fleet: Cli) -> None:
    r = await fleet("get")
    assert (r.code, r.err) == (1, "")
    fleet.golden("get-helmreleases", r.out)
    again = await fleet("get", "hr")
    assert again == r


async def test_get_one_release_by_name_is_ready(fleet: Cli) -> None:
    r = await fleet("get", "helmrelease", "app")
    assert (r.code, r.err) == (0, "")
    fleet.golden("get-helmrelease-app", r.out)


async def test_get_sources_shows_artifact_revisions_and_kinds(fleet: Cli) -> None:
    r = await fleet("get", "sources")
    assert r.code == 1  # HelmRepository nowhere
    fleet.golden("get-sources", r.out)


async def test_get_all(fleet: Cli) -> None:
    r = await fleet("get", "all")
    assert r.code == 1
    fleet.golden("get-all", r.out)


async def test_get_as_data(fleet: Cli) -> None:
    r = await fleet("get", "-o", "json")
    assert r.code == 1
    rows = json.loads(r.out)
    assert [(x["name"], x["ready"], x["revision"], x["suspended"]) for x in rows] == [
        ("app", "True", "1.1.0", False),
        ("base", "True", "1.0.0", False),
        ("broken", "False", "", False),
        ("front", "True", "1.0.0", False),
    ]
    assert {x["age"] for x in rows} == {"29d"}
    as_yaml = await fleet("get", "-o", "yaml")
    assert yaml.safe_load(as_yaml.out) == rows


async def test_get_all_namespaces_puts_the_namespace_first(fleet: Cli) -> None:
    r = await fleet("get", "hr", "-A")
    assert r.out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    ours = [line.split()[:2] for line in r.out.splitlines() if line.startswith(fleet.namespace)]
    assert ours == [[fleet.namespace, n] for n in ("app", "base", "broken", "front")]
    rows = json.loads((await fleet("get", "hr", "-A", "-o", "json")).out)
    assert [x["name"] for x in rows if x["namespace"] == fleet.namespace] == [
        "app",
        "base",
        "broken",
        "front",
    ]


async def test_get_nothing_and_unknown_kinds(fleet: Cli) -> None:
    kubeconfig = str(fleet.h.kubeconfig)
    empty = await run_cli("get", "--kubeconfig", kubeconfig, "-n", "t-cli-empty")
    assert (empty.code, empty.out) == (1, "")
    assert empty.err == '✗ no HelmRelease objects found in "t-cli-empty" namespace\n'
    group = await run_cli("get", "all", "--kubeconfig", kubeconfig, "-n", "t-cli-empty")
    assert (group.code, group.err) == (0, '✗ no objects found in "t-cli-empty" namespace\n')
    unknown = await fleet("get", "kustomizations")
    assert unknown.code == 2
    assert unknown.err.startswith("error: unknown kind 'kustomizations' (one of helmreleases,")


async def test_tree_of_a_ready_release(fleet: Cli) -> None:
    r = await fleet("tree", "app")
    assert (r.code, r.err) == (0, "")
    fleet.golden("tree-app", r.out)


async def test_tree_of_a_release_whose_dependency_is_missing(fleet: Cli) -> None:
    r = await fleet("tree", "broken")
    assert r.code == 1
    fleet.golden("tree-broken", r.out)


async def test_tree_as_data(fleet: Cli) -> None:
    r = await fleet("tree", "base", "-o", "json")
    assert r.code == 0
    data = json.loads(r.out)
    assert data["release"]["state"] == "Ready"
    assert data["dependsOn"] == []
    assert [n["name"] for n in data["requiredBy"]] == ["app"]
    assert [n["name"] for n in data["requiredBy"][0]["children"]] == ["front"]
    assert [(n["kind"], n["state"]) for n in data["inventory"]] == [
        ("ConfigMap", "exists"),
        ("Deployment", "available 1/1"),
    ]
    (chart,) = data["source"]
    assert (chart["kind"], chart["children"][0]["kind"]) == ("HelmChart", "HelmRepository")
    missing = await fleet("tree", "nothing")
    assert (missing.code, missing.out) == (1, "")
    assert missing.err == f"✗ HelmRelease 'nothing' not found in '{fleet.namespace}' namespace\n"


async def test_events_of_a_release_its_chart_and_its_source(fleet: Cli) -> None:
    r = await fleet("events", "base")
    assert (r.code, r.err) == (0, "")
    fleet.golden("events-base", r.out)
    warnings = await fleet("events", "base", "--types", "Warning")
    assert (warnings.code, warnings.out) == (0, "")
    assert warnings.err == f"✗ No events found in {fleet.namespace} namespace.\n"
    repo = await fleet("events", "helmrepository/charts", "-o", "json")
    assert [(e["object"], e["reason"]) for e in json.loads(repo.out)] == [
        ("HelmRepository/charts", "NewArtifact")
    ]
    missing = await fleet("events", "nothing")
    assert missing.code == 1
    bad = await fleet("events", "base", "--types", "Error")
    assert bad.code == 2


async def test_history_beside_the_status(fleet: Cli) -> None:
    r = await fleet("history", "app")
    assert (r.code, r.err) == (0, "")
    fleet.golden("history-app", r.out)
    data = json.loads((await fleet("history", "app", "-o", "json")).out)
    assert data["release"] == "app"
    assert [(v["version"], v["storage"], v["storageSecret"]) for v in data["versions"]] == [
        (1, "superseded", "sh.helm.release.v1.app.v1"),
        (2, "deployed", "sh.helm.release.v1.app.v2"),
    ]
    assert [v["recorded"]["chartVersion"] for v in data["versions"]] == ["1.0.0", "1.1.0"]


async def test_history_of_a_release_never_installed(fleet: Cli) -> None:
    r = await fleet("history", "broken")
    assert (r.code, r.out) == (1, "")
    assert r.err == f"✗ release 'broken' has no versions in '{fleet.namespace}'\n"
