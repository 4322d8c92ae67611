"""The digests Flux records in a HelmRelease's status, computed by the engine as Flux computes
them: values (Flux's test vectors), post-renderers and common metadata by the `digest` op, and
the release digest of every release an op reports, with the OCI digest the request gives."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from internal.helm import Engine
from internal.helm.models import DigestRequest, ObserveSpec
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def _digest(engine: Engine, **fields: Any) -> Any:
    return await engine.digest(DigestRequest(**fields))


async def test_values_digest_is_fluxs_for_its_own_vector(engine: Engine) -> None:
    values = {
        "replicas": 3,
        "image": {"tag": "latest", "repository": "nginx"},
        "ports": [{"protocol": "TCP", "port": 8080}, {"port": 9090, "protocol": "UDP"}],
    }
    got = await _digest(engine, values=values)
    assert got.values == "sha256:fcdc2b0de1581a3633ada4afee3f918f6eaa5b5ab38c3fef03d5b48d3f85d9f6"
    assert (await _digest(engine, values={})).values == EMPTY


async def test_absent_post_renderers_and_metadata_have_no_digest(engine: Engine) -> None:
    got = await _digest(engine)
    assert (got.post_renderers, got.common_metadata) == ("", "")
    assert (await _digest(engine, post_renderers=[])).post_renderers == _sha("[]\n")


async def test_post_renderers_digest_is_go_json_in_fluxs_field_order(engine: Engine) -> None:
    renderers = [
        {
            "kustomize": {
                "patches": [
                    {
                        "target": {"labelSelector": "a=b", "name": "n", "namespace": "ns"},
                        "patch": "value: <&>",
                    }
                ],
                "images": [{"newTag": "1.27", "name": "nginx"}],
            }
        }
    ]
    got = await _digest(engine, post_renderers=renderers)
    # Go writes struct fields in declaration order and escapes <, > and & in strings.
    wire = (
        '[{"kustomize":{"patches":[{"patch":"value: \\u003c\\u0026\\u003e","target":'
        '{"namespace":"ns","name":"n","labelSelector":"a=b"}}],'
        '"images":[{"name":"nginx","newTag":"1.27"}]}}]\n'
    )
    assert got.post_renderers == _sha(wire)


async def test_common_metadata_digest(engine: Engine) -> None:
    metadata = {"labels": {"team": "a"}, "annotations": {"x": "y"}}
    got = await _digest(engine, common_metadata=metadata)
    assert got.common_metadata == _sha('{"annotations":{"x":"y"},"labels":{"team":"a"}}\n')


async def test_a_release_carries_the_digests_of_its_record_and_values(
    engine: Engine, releases: Releases
) -> None:
    chart = releases.configmap_chart()
    values = {"replicas": 2, "name": "x"}
    oci = "sha256:" + "a" * 64
    made = await releases.install("dig", chart, values=values, observe=ObserveSpec(oci_digest=oci))
    rel = made.result.release
    assert rel.config_digest == (await _digest(engine, values=values)).values
    assert rel.oci_digest == oci

    # Read back, the record has the digest it was written with only with the same OCI digest.
    same = await releases.get("dig", observe=ObserveSpec(versions={"1": oci}))
    plain = await releases.get("dig")
    assert same.result.release.digest == rel.digest
    assert plain.result.release.digest != rel.digest
    assert plain.result.release.oci_digest == ""
    last = [o.release for o in made.observations if o.release][-1]
    assert last.digest == rel.digest
