from __future__ import annotations

from typing import Any

import pytest

import api
from api.helmrelease import (
    ChartRefKind,
    CrossNamespaceSourceReference,
    HelmChartTemplateSpec,
    HelmReleaseCondition,
    HelmReleaseReason,
    HelmReleaseSpec,
    Install,
    RemediationStrategy,
    Uninstall,
    Upgrade,
    UpgradeRemediation,
)
from api.meta import (
    FINALIZER,
    FORCE_REQUEST_ANNOTATION,
    RECONCILE_REQUEST_ANNOTATION,
    RESET_REQUEST_ANNOTATION,
    ConditionType,
    ObjectMeta,
    ValuesReference,
)
from api.sources import (
    BucketSpec,
    GitRepositorySpec,
    GitRepositoryVerification,
    HelmRepositorySpec,
    SourceCondition,
)

pytestmark = pytest.mark.api


def _hr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": {"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "p"}, **spec},
    }


def test_names_are_spelled_as_flux_spells_them() -> None:
    assert RECONCILE_REQUEST_ANNOTATION == "reconcile.fluxcd.io/requestedAt"
    assert FORCE_REQUEST_ANNOTATION == "reconcile.fluxcd.io/forceAt"
    assert RESET_REQUEST_ANNOTATION == "reconcile.fluxcd.io/resetAt"
    assert FINALIZER == "finalizers.fluxcd.io"
    assert [c.value for c in ConditionType][:3] == ["Ready", "Stalled", "Reconciling"]
    assert {c.value for c in HelmReleaseCondition} == {
        "Released",
        "TestSuccess",
        "Remediated",
        "Drifted",
    }
    assert {"ArtifactInStorage", "FetchFailed", "BuildFailed"} <= {c.value for c in SourceCondition}
    assert HelmReleaseReason.UPGRADE_SUCCEEDED == "UpgradeSucceeded"


def test_python_names_are_snake_case_and_the_wire_is_camel_case() -> None:
    spec = HelmReleaseSpec(
        interval="5m",
        chart_ref=CrossNamespaceSourceReference(kind=ChartRefKind.HELM_CHART, name="c"),
        install=Install(disable_open_api_validation=True, skip_crds=True),
        max_history=3,
    )
    hr = api.HelmRelease(metadata=ObjectMeta(name="x"), spec=spec)
    assert hr.to_wire() == {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "x"},
        "spec": {
            "interval": "5m",
            "chartRef": {"kind": "HelmChart", "name": "c"},
            "install": {"disableOpenAPIValidation": True, "skipCRDs": True},
            "maxHistory": 3,
        },
    }


def test_server_side_defaults_live_in_the_model() -> None:
    template = HelmChartTemplateSpec.model_validate(
        {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "p"}}
    )
    assert template.version == "*"
    assert template.reconcile_strategy == "ChartVersion"
    assert Uninstall().deletion_propagation == "background"
    assert HelmRepositorySpec(url="https://example.com").provider == "generic"
    assert HelmRepositorySpec(url="https://example.com").timeout is None
    git = GitRepositorySpec(url="https://example.com/repo", interval="1m")
    assert git.timeout == "60s"
    assert git.provider is None
    assert GitRepositoryVerification.model_validate({"secretRef": {"name": "k"}}).mode == "HEAD"
    bucket = BucketSpec(bucket_name="b", endpoint="e", interval="1m")
    assert (bucket.provider, bucket.timeout) == ("generic", "60s")


def test_controller_defaults_are_flux_getters() -> None:
    spec = api.parse(_hr()).spec
    assert isinstance(spec, HelmReleaseSpec)
    assert spec.effective_timeout() == "5m0s"
    assert spec.effective_max_history() == 5
    assert spec.effective_persistent_client() is True
    assert spec.effective_post_render_strategy() == "combined"
    assert spec.effective_wait_strategy() == "poller"
    assert spec.effective_chart_interval() == "5m"
    assert Install().effective_crds() == "Create"
    assert Upgrade().effective_crds() == "Create"
    assert UpgradeRemediation().effective_strategy() == RemediationStrategy.ROLLBACK
    assert UpgradeRemediation(retries=2).effective_remediate_last_failure() is True
    assert UpgradeRemediation().effective_remediate_last_failure() is False
    assert ValuesReference(kind="Secret", name="s").key() == "values.yaml"
    unlimited = api.parse(_hr(maxHistory=0))
    assert isinstance(unlimited, api.HelmRelease)
    assert unlimited.spec.effective_max_history() == 0


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({}, "apiVersion: required"),
        ({"apiVersion": "helm.toolkit.fluxcd.io/v2"}, "kind: required"),
        (
            {"apiVersion": "helm.toolkit.fluxcd.io/v2beta1", "kind": "HelmRelease"},
            "kind: helm.toolkit.fluxcd.io/v2beta1 HelmRelease is not supported",
        ),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "v1 ConfigMap is not supported"),
    ],
)
def test_parse_names_unsupported_kinds(obj: dict[str, Any], problem: str) -> None:
    with pytest.raises(api.ParseError, match=problem):
        api.parse(obj)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"max_history": 3}, "spec.max_history: unknown field"),
        ({"maxHistory": "3"}, "spec.maxHistory: Input should be a valid integer"),
        ({"suspend": "true"}, "spec.suspend: Input should be a valid boolean"),
        ({"releaseName": 7}, "spec.releaseName: Input should be a valid string"),
        ({"values": {"a": 1}, "valuez": {}}, "spec.valuez: unknown field"),
        (
            {"dependsOn": [{"name": "a"}, {"namespace": "b"}]},
            r"spec.dependsOn\[1\].name: Required value",
        ),
    ],
)
def test_parse_takes_the_wire_format_only(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(api.ParseError, match=problem) as caught:
        api.parse(_hr(**spec))
    assert str(caught.value).startswith("HelmRelease apps/podinfo is invalid:")


def test_free_form_values_take_anything() -> None:
    values = {"a": [1, 2.5, None, {"b": True}], "snake_case": {"x-y": "z"}}
    hr = api.parse(_hr(values=values))
    assert hr.to_wire()["spec"]["values"] == values


def test_parse_accepts_unquoted_yaml_timestamps() -> None:
    import yaml

    doc = yaml.safe_load(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: ExternalArtifact\n"
        "metadata: {name: a, creationTimestamp: 2025-03-01T10:00:00Z}\n"
    )
    obj = api.parse(doc)
    assert obj.to_wire()["metadata"]["creationTimestamp"] == "2025-03-01T10:00:00Z"


def test_parse_returns_the_kind_asked_for() -> None:
    assert type(api.parse(_hr())) is api.HelmRelease
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "r"},
        "spec": {"url": "oci://ghcr.io/x", "type": "oci"},
    }
    assert type(api.parse(repo)) is api.HelmRepository
