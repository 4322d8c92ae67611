"""The watches file and the single-watch environment: what loads, and the exact message of
what does not (file, line, field)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from internal.watches import config
from internal.watches.config import Watch, WatchesError, configured, from_environment, load

GOOD = """\
# the operator's kinds
- group: cache.example.com
  version: v1alpha1
  kind: Memcached
  chart: charts/memcached
  overrideValues:
    image.repository: $REGISTRY/memcached
    image.tag: "${TAG}"
  reconcilePeriod: 1m30s
  maxConcurrentReconciles: 4
  selector:
    matchLabels: {tier: cache}
    matchExpressions:
      - {key: env, operator: In, values: [prod, dev]}
- version: v1
  kind: Nginx
  chart: oci://registry.example.com/charts/nginx
  watchDependentResources: false
  dryRunOption: server
- {group: web.example.com, version: v1, kind: Site, chart: site-1.0.0.tgz}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a chart directory and a packaged chart in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "charts" / "memcached").mkdir(parents=True)
    (tmp_path / "charts" / "memcached" / "Chart.yaml").write_text("name: memcached\n")
    (tmp_path / "charts" / "bare").mkdir()
    (tmp_path / "site-1.0.0.tgz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    return tmp_path


def write(text: str) -> Path:
    path = Path("watches.yaml")
    path.write_text(text)
    return path


def error(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(WatchesError) as info:
        load(write(text), environ or {})
    return str(info.value)


def test_loads(here: Path) -> None:
    memcached, nginx, site = load(write(GOOD), {"REGISTRY": "mirror.example.com"})
    assert memcached == Watch(
        group="cache.example.com",
        version="v1alpha1",
        kind="Memcached",
        chart="charts/memcached",
        override_values={"image.repository": "mirror.example.com/memcached", "image.tag": ""},
        reconcile_period="1m30s",
        max_concurrent_reconciles=4,
        selector={
            "matchLabels": {"tier": "cache"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}],
        },
    )
    assert memcached.api_version == "cache.example.com/v1alpha1"
    assert memcached.watch_dependent_resources is True
    assert memcached.period == timedelta(seconds=90)
    assert memcached.label_selector() == "env in (dev,prod),tier=cache"
    assert memcached.dry_run_option is None

    assert nginx.api_version == "v1"
    assert nginx.group == ""
    assert nginx.watch_dependent_resources is False
    assert nginx.dry_run_option == "server"
    assert nginx.label_selector() is None
    assert nginx.period is None
    assert nginx.override_values == {}

    assert site.chart == "site-1.0.0.tgz"


def test_overrides_expand_from_the_given_environment() -> None:
    w = Watch(version="v1", kind="K", chart="c", override_values={"a": "$A-${B}-$C-$$-x$"})
    assert w.overrides({"A": "1", "B": "2", "$": "p"}) == {"a": "1-2--p-x$"}


def test_an_empty_selector_selects_everything() -> None:
    w = Watch(version="v1", kind="K", chart="c", selector={"matchLabels": {}})
    assert w.label_selector() is None


def test_watch_is_frozen_and_strict() -> None:
    w = Watch(version="v1", kind="K", chart="c")
    with pytest.raises(ValidationError):
        w.kind = "Other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Watch.model_validate({"version": 1, "kind": "K", "chart": "c"})


def test_annotation_and_finalizer_names() -> None:
    assert config.UPGRADE_FORCE == "helm.sdk.operatorframework.io/upgrade-force"
    assert config.ROLLBACK_FORCE == "helm.sdk.operatorframework.io/rollback-force"
    assert config.UNINSTALL_WAIT == "helm.sdk.operatorframework.io/uninstall-wait"
    assert config.RECONCILE_PERIOD == "helm.sdk.operatorframework.io/reconcile-period"
    assert config.FINALIZER == "helm.sdk.operatorframework.io/uninstall-release"
    assert config.LEGACY_FINALIZER == "uninstall-helm-release"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- group: g\n  kind: K\n  chart: charts/memcached\n",
            "watches.yaml:1: [0].version: field required",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n\n- version: v1\n"
            "  chart: charts/memcached\n",
            "watches.yaml:5: [1].kind: field required",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  charts: x\n",
            "watches.yaml:4: [0].charts: unknown field",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n"
            "  watch_dependent_resources: no\n",
            "watches.yaml:4: [0].watch_dependent_resources: unknown field; "
            "did you mean watchDependentResources?",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  reconcilePeriod: 1x\n",
            "watches.yaml:4: [0].reconcilePeriod: invalid duration '1x'",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  reconcilePeriod: -1m\n",
            "watches.yaml:4: [0].reconcilePeriod: '-1m' is negative",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  maxConcurrentReconciles: 0\n",
            "watches.yaml:4: [0].maxConcurrentReconciles: "
            "input should be greater than or equal to 1",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  dryRunOption: maybe\n",
            "watches.yaml:4: [0].dryRunOption: "
            "input should be 'none', 'client', 'server', 'true' or 'false'",
        ),
        (
            "- version: ''\n  kind: K\n  chart: charts/memcached\n",
            "watches.yaml:1: [0].version: must not be empty",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  overrideValues:\n"
            "    ok: x\n    replicas: 3\n",
            "watches.yaml:6: [0].overrideValues.replicas: input should be a valid string",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  selector:\n"
            "    matchExpressions:\n      - key: env\n        operator: In\n",
            "watches.yaml:6: [0].selector.matchExpressions[0].values: In needs at least one value",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  selector:\n"
            "    matchLabels:\n      tier: cache\n      bad key: x\n",
            "watches.yaml:7: [0].selector.matchLabels.bad key: invalid label key 'bad key': "
            "expected [prefix/]name, a name of at most 63 alphanumerics, '-', '_' or '.' "
            "that starts and ends with an alphanumeric, the optional prefix a DNS subdomain",
        ),
        (
            "- version: v1\n  kind: K\n  chart: /nonexistent/chart\n",
            "watches.yaml:3: [0].chart: chart /nonexistent/chart does not exist",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/bare\n",
            "watches.yaml:3: [0].chart: chart charts/bare has no Chart.yaml",
        ),
        (
            "- version: v1\n  kind: K\n  chart: notes.txt\n",
            "watches.yaml:3: [0].chart: "
            "chart notes.txt is neither a chart directory nor a .tgz file",
        ),
        (
            "- version: v1\n  kind: K\n  chart: 'oci://'\n",
            "watches.yaml:3: [0].chart: chart oci:// names no repository",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n"
            "  overrideValues:\n    a: '1,b'\n",
            'watches.yaml:5: [0].overrideValues.a: key "b" has no value',
        ),
        (
            "- group: g\n  version: v1\n  kind: K\n  chart: charts/memcached\n"
            "- {group: g, version: v2, kind: K, chart: charts/memcached}\n"
            "- {group: g, version: v1, kind: K, chart: site-1.0.0.tgz}\n",
            "watches.yaml:6: [2]: K of g/v1 is watched twice: lines 1 and 6",
        ),
        (
            "- version: v1\n  kind: K\n  chart: charts/memcached\n  kind: L\n",
            "watches.yaml:4: [0].kind: duplicate key (first at line 2)",
        ),
        ("- charts/memcached\n", "watches.yaml:1: [0]: a watch is a mapping, not a string"),
        (
            "\n\ngroup: g\nversion: v1\n",
            "watches.yaml:3: expected a list of watches, not a mapping",
        ),
        ("chart\n", "watches.yaml:1: expected a list of watches, not a string"),
        ("", "watches.yaml: no watches"),
        ("# nothing yet\n", "watches.yaml: no watches"),
        ("[]\n", "watches.yaml: no watches"),
        (
            "- version: v1\n  kind: [K\n",
            "watches.yaml:3: while parsing a flow sequence: expected ',' or ']', "
            "but got '<stream end>'",
        ),
        (
            "- {version: v1, kind: K, chart: charts/memcached}\n---\n- {}\n",
            "watches.yaml:2: expected a single document in the stream: but found another document",
        ),
    ],
)
def test_bad_files_name_line_and_field(here: Path, text: str, message: str) -> None:
    assert error(text) == message


def test_every_problem_is_reported_in_file_order(here: Path) -> None:
    text = (
        "- version: v1\n"
        "  kind: A\n"
        "  chart: /nonexistent\n"
        "- kind: B\n"
        "  chart: charts/memcached\n"
        "  reconcilePeriod: soon\n"
    )
    assert error(text) == (
        "watches.yaml:3: [0].chart: chart /nonexistent does not exist\n"
        "watches.yaml:4: [1].version: field required\n"
        "watches.yaml:6: [1].reconcilePeriod: invalid duration 'soon'"
    )


def test_an_unreadable_file(here: Path) -> None:
    with pytest.raises(WatchesError, match=r"^missing.yaml: cannot read the watches file: "):
        load(Path("missing.yaml"), {})


def test_relative_charts_are_relative_to_the_working_directory(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "conf").mkdir()
    path = here / "conf" / "watches.yaml"
    path.write_text("- {version: v1, kind: K, chart: charts/memcached}\n")
    assert [w.chart for w in load(path, {})] == ["charts/memcached"]
    monkeypatch.chdir(here / "conf")
    with pytest.raises(WatchesError, match=r"\[0\]\.chart: chart charts/memcached does not"):
        load(path, {})


SINGLE = {"API_VERSION": "cache.example.com/v1", "KIND": "Memcached", "HELM_CHART": "oci://r/c"}


def test_from_environment() -> None:
    assert from_environment({}) == []
    assert from_environment({"API_VERSION": "", "KIND": ""}) == []
    assert from_environment(SINGLE) == [
        Watch(group="cache.example.com", version="v1", kind="Memcached", chart="oci://r/c")
    ]
    (core,) = from_environment({**SINGLE, "API_VERSION": "v1"})
    assert (core.group, core.version, core.api_version) == ("", "v1", "v1")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KIND": "K"}, "KIND is set but not API_VERSION and HELM_CHART: set all three or none"),
        (
            {"API_VERSION": "v1", "KIND": "K"},
            "API_VERSION and KIND are set but not HELM_CHART: set all three or none",
        ),
        (
            {**SINGLE, "API_VERSION": "a/b/c"},
            "API_VERSION: expected group/version or version, not 'a/b/c'",
        ),
        ({**SINGLE, "API_VERSION": "apps/"}, "API_VERSION: version must not be empty"),
        ({**SINGLE, "HELM_CHART": "/nonexistent"}, "HELM_CHART: chart /nonexistent does not exist"),
    ],
)
def test_from_environment_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(WatchesError) as info:
        from_environment(environ)
    assert str(info.value) == message


def test_configured_picks_one_source(here: Path) -> None:
    write("- {version: v1, kind: K, chart: charts/memcached}\n")
    assert configured(None, {}) == []
    assert [w.kind for w in configured("watches.yaml", {})] == ["K"]
    assert [w.kind for w in configured(None, {"HELM_CHART_WATCHES": "watches.yaml"})] == ["K"]
    # The flag wins over HELM_CHART_WATCHES.
    assert [w.kind for w in configured("watches.yaml", {"HELM_CHART_WATCHES": "x"})] == ["K"]
    assert [w.kind for w in configured(None, SINGLE)] == ["Memcached"]


@pytest.mark.parametrize(
    ("flag", "environ", "message"),
    [
        (
            "watches.yaml",
            SINGLE,
            "API_VERSION, KIND and HELM_CHART are set and so is --watches-file watches.yaml: "
            "use one",
        ),
        (
            "watches.yaml",
            {"KIND": "K"},
            "KIND is set and so is --watches-file watches.yaml: use one",
        ),
        (
            None,
            {"HELM_CHART_WATCHES": "watches.yaml", "HELM_CHART": "c"},
            "HELM_CHART is set and so is HELM_CHART_WATCHES=watches.yaml: use one",
        ),
    ],
)
def test_configured_refuses_both(
    here: Path, flag: str | None, environ: dict[str, str], message: str
) -> None:
    write("- {version: v1, kind: K, chart: charts/memcached}\n")
    with pytest.raises(WatchesError) as info:
        configured(flag, environ)
    assert str(info.value) == message
