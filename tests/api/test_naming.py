from __future__ import annotations

import pytest

from api.helmrelease import (
    CrossNamespaceObjectReference,
    CrossNamespaceSourceReference,
    HelmChartTemplate,
    HelmChartTemplateSpec,
    HelmRelease,
    HelmReleaseSpec,
)
from api.meta import ObjectMeta
from api.naming import (
    chart_source_namespace,
    helm_chart_name,
    release_name,
    shorten_release_name,
    storage_namespace,
    target_namespace,
)

pytestmark = pytest.mark.api


def _release(name: str = "podinfo", namespace: str | None = "apps", **spec: object) -> HelmRelease:
    spec.setdefault(
        "chart_ref", CrossNamespaceSourceReference(kind="OCIRepository", name="podinfo")
    )
    return HelmRelease(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=HelmReleaseSpec(interval="5m", **spec),
    )


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("release-name", "release-name"),
        ("", ""),
        ("x" * 53, "x" * 53),
        (
            "release-name-with-very-long-name-which-is-longer-than-53-characters",
            "release-name-with-very-long-name-which-i-788ca0d0d7b0",
        ),
        (
            "another-release-name-with-very-long-name-which-is-longer-than-53-characters",
            "another-release-name-with-very-long-name-7e72150d5a36",
        ),
        (
            "a-very-lengthy-target-namespace-with-a-nice-object-name",
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3",
        ),
    ],
)
def test_shortens_names_over_53_characters_as_flux_does(name: str, short: str) -> None:
    assert shorten_release_name(name) == short
    assert len(shorten_release_name(name)) <= 53


def test_release_name_is_the_object_name_by_default() -> None:
    assert release_name(_release()) == "podinfo"


def test_release_name_is_prefixed_with_the_target_namespace() -> None:
    assert release_name(_release(target_namespace="prod")) == "prod-podinfo"


def test_release_name_wins_when_set() -> None:
    assert release_name(_release(release_name="mine", target_namespace="prod")) == "mine"


def test_a_long_derived_release_name_is_shortened() -> None:
    hr = _release(
        name="with-a-nice-object-name", target_namespace="a-very-lengthy-target-namespace"
    )
    assert release_name(hr) == "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3"


def test_namespaces_default_to_the_helmrelease_namespace() -> None:
    hr = _release()
    assert target_namespace(hr) == "apps"
    assert storage_namespace(hr) == "apps"
    assert chart_source_namespace(hr) == "apps"


def test_namespaces_follow_the_spec_when_set() -> None:
    hr = _release(
        target_namespace="target",
        storage_namespace="storage",
        chart_ref=CrossNamespaceSourceReference(
            kind="OCIRepository", name="podinfo", namespace="sources"
        ),
    )
    assert target_namespace(hr) == "target"
    assert storage_namespace(hr) == "storage"
    assert chart_source_namespace(hr) == "sources"


def test_chart_template_source_namespace_defaults_to_the_helmrelease_namespace() -> None:
    template = HelmChartTemplate(
        spec=HelmChartTemplateSpec(
            chart="podinfo",
            source_ref=CrossNamespaceObjectReference(kind="HelmRepository", name="podinfo"),
        )
    )
    hr = _release(chart=template, chart_ref=None)
    assert chart_source_namespace(hr) == "apps"
    assert helm_chart_name(hr) == "apps-podinfo"
    assert template.spec.source_ref.namespace is None


def test_a_release_without_namespace_cannot_be_placed() -> None:
    with pytest.raises(ValueError, match=r"metadata\.namespace"):
        target_namespace(_release(namespace=None))
