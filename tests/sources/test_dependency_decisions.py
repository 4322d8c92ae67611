"""The pure decisions around chart dependencies (which are declared, vendored, where file://
points, which HelmRepository covers a URL, the storage key) and the on-disk store of built
sets (atomic writes, damaged sets, garbage collection)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from internal.artifacts.dependencies import DependencyCache, DependencyCacheError
from internal.sources import chart as charts
from internal.sources import dependencies as deps

pytestmark = pytest.mark.sources

V2 = b"apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: a\n  version: 1.x\n"


def _meta(raw: bytes) -> charts.ChartMetadata:
    return charts.parse_metadata(raw)


def test_declared_reads_requirements_yaml_for_v1_only() -> None:
    v1 = b"apiVersion: v1\nname: app\nversion: 1.0.0\n"
    req = b"dependencies:\n- name: b\n  version: 2.x\n  repository: https://r\n"
    files = {"Chart.yaml": v1, "requirements.yaml": req}
    assert [d["name"] for d in deps.declared(files, _meta(v1))] == ["b"]
    assert deps.lock_name(_meta(v1)) == "requirements.lock"
    files2 = {"Chart.yaml": V2, "requirements.yaml": req}
    assert [d["name"] for d in deps.declared(files2, _meta(V2))] == ["a"]
    assert deps.lock_name(_meta(V2)) == "Chart.lock"
    with pytest.raises(charts.ChartError):
        deps.declared({"Chart.yaml": v1, "requirements.yaml": b"a: [b"}, _meta(v1))


def test_nothing_is_built_when_every_dependency_is_vendored() -> None:
    declared = [{"name": "a"}, {"name": "b"}]
    both = {"charts/a-1.0.0.tgz": b"", "charts/b/Chart.yaml": b""}
    assert not deps.needs_build(both, declared)
    assert deps.needs_build({"charts/a-1.0.0.tgz": b""}, declared)
    # A file deeper in charts/ is not a packaged subchart.
    assert deps.needs_build({"charts/x/a-1.0.0.tgz": b"", "charts/b/Chart.yaml": b""}, declared)


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("file://../lib", "charts/lib"),
        ("file://lib", "charts/app/lib"),
        ("file://../../lib", "lib"),
        ("file://../../../etc", None),
        ("file:///etc/passwd", None),
        ("file://", None),
    ],
)
def test_local_paths_stay_inside_the_root(repository: str, expected: str | None) -> None:
    assert deps.local_path(repository, "charts/app") == expected


def test_oci_repositories_cover_urls_by_path_prefix() -> None:
    assert deps.oci_matches("oci://r:5000/charts", "oci://r:5000/charts")
    assert deps.oci_matches("oci://r:5000/charts/", "oci://r:5000/charts/team")
    assert not deps.oci_matches("oci://r:5000/charts", "oci://r:5000/chartsx")
    assert not deps.oci_matches("oci://r:5000/charts", "oci://other/charts")
    assert deps.oci_host("oci://127.0.0.1:5000/charts/x") == "127.0.0.1:5000"
    assert deps.is_loopback("127.0.0.1:5000")
    assert deps.is_loopback("localhost")
    assert not deps.is_loopback("registry.example.com:5000")
    assert deps.same_url("https://r/charts/", "https://r/charts")


def _key(**changes: object) -> str:
    inputs = {
        "namespace": "a",
        "dependencies": [{"name": "x", "version": "1.x", "repository": "https://r"}],
        "lock": b"lock",
        "source_revision": "main@sha1:1",
        "local": {},
        "vendored": deps.files_digest({}),
    }
    inputs.update(changes)
    return deps.storage_key(deps.KeyInputs(**inputs))  # type: ignore[arg-type]


def test_the_storage_key_covers_what_the_build_depends_on() -> None:
    base = _key()
    assert len(base) == 64
    assert _key(namespace="b") != base
    assert _key(lock=b"other") != base
    assert _key(dependencies=[{"name": "y"}]) != base
    assert _key(local={"file://../lib": "sha256:1"}) != base
    assert _key(vendored=deps.files_digest({"charts/a.tgz": b"1"})) != base
    # With a committed lock the source revision does not matter; without one it does.
    assert _key(source_revision="main@sha1:2") == base
    assert _key(lock=None) != _key(lock=None, source_revision="main@sha1:2")


def test_built_packages_must_fit_the_chart_limit() -> None:
    deps.check_built([("charts/a.tgz", 10)], 10, 10, 10)
    with pytest.raises(charts.ChartError, match="exceeds the maximum chart size of 10"):
        deps.check_built([("charts/a.tgz", 11)], 10, 11, 100)
    with pytest.raises(charts.ChartError, match="over the maximum chart size"):
        deps.check_built([("charts/a.tgz", 5)], 10, 101, 100)


KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64


def test_a_stored_set_reads_back_and_a_damaged_one_is_none(tmp_path: Path) -> None:
    cache = DependencyCache(tmp_path)
    files = {"charts/x-1.0.0.tgz": b"tgz", "Chart.lock": b"lock"}
    assert cache.load("ns", KEY_A) is None
    cache.save("ns", KEY_A, files)
    assert cache.load("ns", KEY_A) == files
    assert not [p for p in (tmp_path / "dependencies" / "ns").iterdir() if p.name.startswith(".")]
    (tmp_path / "dependencies" / "ns" / KEY_A / "Chart.lock").unlink()
    assert cache.load("ns", KEY_A) is None
    # A set already there is kept as it is.
    cache.save("ns", KEY_B, files)
    cache.save("ns", KEY_B, {"Chart.lock": b"other"})
    assert cache.load("ns", KEY_B) == files


@pytest.mark.parametrize(
    ("namespace", "key", "name"),
    [
        ("../x", KEY_A, "Chart.lock"),
        ("ns", "../" + KEY_A, "Chart.lock"),
        ("ns", KEY_A, "../Chart.lock"),
        ("ns", KEY_A, "charts/sub/x.tgz"),
        ("ns", KEY_A, "files.json"),
    ],
)
def test_nothing_is_written_outside_its_directory(
    tmp_path: Path, namespace: str, key: str, name: str
) -> None:
    with pytest.raises(DependencyCacheError):
        DependencyCache(tmp_path).save(namespace, key, {name: b"x"})
    assert not list(tmp_path.rglob("*x*"))


def test_garbage_collection_keeps_the_most_recently_used(tmp_path: Path) -> None:
    cache = DependencyCache(tmp_path, keep=2)
    now = time.time()
    for age, key in ((30, KEY_A), (20, KEY_B)):
        cache.save("ns", key, {"Chart.lock": key.encode()})
        os.utime(tmp_path / "dependencies" / "ns" / key, (now - age, now - age))
    assert cache.load("ns", KEY_A) is not None  # a use makes A the newest
    stale = tmp_path / "dependencies" / "ns" / ".tmp-left"
    stale.mkdir()
    os.utime(stale, (now - 7200, now - 7200))
    cache.save("ns", KEY_C, {"Chart.lock": b"c"})
    left = sorted(p.name for p in (tmp_path / "dependencies" / "ns").iterdir())
    assert left == sorted([KEY_A, KEY_C])
    cache.save("other", KEY_B, {"Chart.lock": b"b"})  # namespaces are collected apart
    assert cache.load("ns", KEY_A) is not None
