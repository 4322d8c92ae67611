"""valuesFrom composition with Flux's semantics; errors name the reference, never the data."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from internal.values.compose import Reason, Reference, ValuesError, compose, merge_maps

OBJECTS: dict[tuple[str, str], dict[str, bytes]] = {
    ("ConfigMap", "base"): {"values.yaml": b"replicas: 1\nimage: {repo: web, tag: '1.0'}\n"},
    ("ConfigMap", "prod"): {"prod.yaml": b"replicas: 3\nimage: {tag: '2.0'}\n"},
    ("Secret", "creds"): {
        "password": b"s3cr3t,with=chars",
        "pin": b"s3cr3t,tail",
        "values.yaml": b"db: {user: app}\n",
    },
    ("ConfigMap", "broken"): {"values.yaml": b"password: hunter2\n  bad: [indent"},
    ("ConfigMap", "list"): {"values.yaml": b"- a\n- b\n"},
}


async def lookup(kind: str, name: str) -> Mapping[str, bytes] | None:
    return OBJECTS.get((kind, name))


async def test_refs_merge_in_order_then_inline_values_win() -> None:
    refs = [Reference("ConfigMap", "base"), Reference("ConfigMap", "prod", values_key="prod.yaml")]
    got = await compose(refs, {"replicas": 5}, "apps", lookup)
    assert got == {"replicas": 5, "image": {"repo": "web", "tag": "2.0"}}


async def test_target_path_sets_one_value() -> None:
    refs = [
        Reference("Secret", "creds"),
        Reference(
            "Secret", "creds", values_key="password", target_path="db.password", literal=True
        ),
    ]
    got = await compose(refs, {}, "apps", lookup)
    assert got == {"db": {"user": "app", "password": "s3cr3t,with=chars"}}


async def test_target_path_without_literal_is_typed_and_quoted_means_string() -> None:
    objects = {("ConfigMap", "n"): {"count": b"3", "quoted": b'"3"'}}

    async def local(kind: str, name: str) -> Mapping[str, bytes] | None:
        return objects.get((kind, name))

    refs = [
        Reference("ConfigMap", "n", values_key="count", target_path="a.count"),
        Reference("ConfigMap", "n", values_key="quoted", target_path="a.text"),
    ]
    assert await compose(refs, None, "apps", local) == {"a": {"count": 3, "text": "3"}}


async def test_optional_missing_refs_are_skipped() -> None:
    refs = [
        Reference("ConfigMap", "absent", optional=True),
        Reference("ConfigMap", "base", values_key="nope", optional=True),
        Reference("ConfigMap", "base"),
    ]
    got = await compose(refs, None, "apps", lookup)
    assert got["replicas"] == 1


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        (Reference("ConfigMap", "absent"), Reason.RESOURCE_NOT_FOUND),
        (Reference("ConfigMap", "base", values_key="nope"), Reason.KEY_NOT_FOUND),
        (Reference("Service", "base"), Reason.UNSUPPORTED_KIND),
        (Reference("ConfigMap", "broken"), Reason.DATA_READ),
        (Reference("ConfigMap", "list"), Reason.DATA_READ),
        (Reference("Secret", "creds", values_key="password", target_path="a[x]"), Reason.MERGE),
        (Reference("Secret", "creds", values_key="pin", target_path="db.pin"), Reason.MERGE),
    ],
)
async def test_errors_name_the_reference_and_never_the_data(ref: Reference, reason: Reason) -> None:
    with pytest.raises(ValuesError) as caught:
        await compose([ref], None, "apps", lookup)
    assert caught.value.reason is reason
    message = str(caught.value)
    assert f"'apps/{ref.name}'" in message
    assert ref.values_key in message
    for secret in ("hunter2", "s3cr3t"):
        assert secret not in message


def test_merge_maps_replaces_non_maps_and_merges_maps() -> None:
    a = {"x": {"y": 1, "z": [1]}, "k": {"deep": 1}}
    b = {"x": {"z": [2]}, "k": "flat"}
    assert merge_maps(a, b) == {"x": {"y": 1, "z": [2]}, "k": "flat"}
    assert a == {"x": {"y": 1, "z": [1]}, "k": {"deep": 1}}, "inputs are not mutated"
