"""The pure decisions of the sources: versions, constraints, selection, revisions, ref
precedence, ignore rules, garbage collection and safe extraction."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from internal.artifacts.storage import select_garbage
from internal.sources import chart as charts
from internal.sources.archive import ArchiveError, extract_tgz
from internal.sources.credentials import LEGACY_TLS_KEYS, TLSMaterial, basic_auth, tls_material
from internal.sources.git import GitAuth, Ref, pick_semver_tag, plan
from internal.sources.helmindex import ChartNotFoundError, parse_index
from internal.sources.ignore import rules
from internal.sources.revisions import bucket_revision, chart_version_metadata, git_revision
from internal.sources.semver import Constraint, Version

pytestmark = pytest.mark.sources


@pytest.mark.parametrize(
    ("constraint", "version", "ok"),
    [
        ("*", "1.0.0", True),
        ("*", "1.0.0-rc.1", False),
        (">=1.0.0-0", "1.1.0-rc.1", True),
        ("1.2.3", "1.2.3+build", True),
        ("1.2", "1.2.9", True),
        ("~1.2", "1.3.0", False),
        ("~1.2.3", "1.2.9", True),
        ("^1.2.3", "1.9.0", True),
        ("^1.2.3", "2.0.0", False),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.4", False),
        ("1.2 - 1.4", "1.4.0", True),
        ("1.2 - 1.4", "1.4.9", True),  # the upper end is a wildcard: <1.5.0
        ("1.2 - 1.4.0", "1.4.1", False),
        (">1.2.x", "1.2.9", False),
        (">1.2.x", "1.3.0", True),
        ("<=1.2.x", "1.2.9", True),
        (">=1.0, <2", "1.9.9", True),
        (">= 1.0 < 2", "2.0.0", False),
        ("<2 || >=3", "2.5.0", False),
        ("<2 || >=3", "3.1.0", True),
        ("1.x", "1.99.0", True),
        ("!=1.2.3", "1.2.3", False),
        ("v1.2.x", "1.2.1", True),
    ],
)
def test_constraints(constraint: str, version: str, ok: bool) -> None:
    assert Constraint.parse(constraint).check(Version.parse(version)) is ok


def test_version_order() -> None:
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
    ]
    parsed = [Version.parse(v) for v in order]
    assert sorted(reversed(parsed)) == parsed


INDEX = b"""apiVersion: v1
entries:
  app:
  - {name: app, version: 1.0.0, urls: [app-1.0.0.tgz], created: "2024-01-01T00:00:00Z"}
  - {name: app, version: 1.1.0-rc.1, urls: [app-1.1.0-rc.1.tgz]}
  - {name: app, version: 1.0.0+b2, urls: [app-1.0.0+b2.tgz], created: "2024-02-01T00:00:00Z"}
  - {name: app, version: v0.9.0, urls: [app-0.9.0.tgz]}
  - {name: app, version: 0.10, urls: [app-0.10.tgz]}
  - {name: app, urls: [no-version.tgz]}
  empty: []
"""


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("*", "1.0.0+b2"),  # equal versions: the newest created wins
        ("", "1.0.0+b2"),
        ("1.0.0", "1.0.0"),  # an exact string match comes first
        (">=1.1.0-0", "1.1.0-rc.1"),
        ("<1.0.0", "0.10"),  # a bare number keeps its text: 0.10, not 0.1
        ("<0.10.0", "v0.9.0"),
    ],
)
def test_index_selection(version: str, expected: str) -> None:
    assert parse_index(INDEX).get("app", version).version == expected


def test_index_errors() -> None:
    index = parse_index(INDEX)
    assert len(index.versions("app")) == 5  # the entry without a version is dropped
    with pytest.raises(ChartNotFoundError, match="no chart name found"):
        index.get("nope")
    with pytest.raises(ChartNotFoundError, match="no chart version found"):
        index.get("empty")
    with pytest.raises(ChartNotFoundError, match=r"matching '2\.x' found"):
        index.get("app", "2.x")
    with pytest.raises(ValueError, match="no API version"):
        parse_index(b"entries: {}\n")


def test_json_index() -> None:
    index = parse_index(
        b'{"apiVersion": "v1", "entries": {"a": [{"name": "a", "version": "1.0.0"}]}}'
    )
    assert index.get("a").version == "1.0.0"


@pytest.mark.parametrize(
    ("ref", "kind", "fetch", "label"),
    [
        (None, "branch", "refs/heads/master", "master"),
        (Ref(branch="main"), "branch", "refs/heads/main", "main"),
        (Ref(branch="main", tag="v1"), "tag", "refs/tags/v1", "v1"),
        (Ref(tag="v1", semver="1.x"), "semver", None, None),
        (
            Ref(semver="1.x", name="refs/pull/1/head"),
            "name",
            "refs/pull/1/head",
            "refs/pull/1/head",
        ),
        (Ref(name="refs/heads/x", commit="abc"), "commit", None, None),
        (Ref(branch="main", commit="abc"), "commit", "refs/heads/main", "main"),
    ],
)
def test_ref_precedence(ref: Ref | None, kind: str, fetch: str | None, label: str | None) -> None:
    p = plan(ref)
    assert (p.kind, p.fetch, p.label) == (kind, fetch, label)


def test_semver_tags() -> None:
    tags = ["v1.0.0", "v1.2.0", "v2.0.0-rc.1", "latest", "1.1.0"]
    assert pick_semver_tag(tags, ">=1.0.0 <2.0.0") == "v1.2.0"
    assert pick_semver_tag(tags, ">=2.0.0-0") == "v2.0.0-rc.1"
    assert pick_semver_tag(tags, "3.x") is None


def test_revisions() -> None:
    assert git_revision("main", "a" * 40) == f"main@sha1:{'a' * 40}"
    assert git_revision(None, "b" * 40) == f"sha1:{'b' * 40}"
    rev = bucket_revision({"b": "2", "a": "1"})
    import hashlib

    assert rev == "sha256:" + hashlib.sha256(b"a 1\nb 2\n").hexdigest()


@pytest.mark.parametrize(
    ("kind", "strategy", "values", "expected"),
    [
        ("HelmRepository", "ChartVersion", False, None),
        ("HelmRepository", "Revision", False, None),
        ("HelmRepository", "ChartVersion", True, "7"),
        ("GitRepository", "ChartVersion", False, None),
        ("GitRepository", "Revision", False, "0123456789ab"),
        ("GitRepository", "Revision", True, "0123456789ab.7"),
        ("Bucket", "Revision", False, "0123456789ab"),
    ],
)
def test_chart_version_metadata(
    kind: str, strategy: str, values: bool, expected: str | None
) -> None:
    meta = chart_version_metadata(
        source_kind=kind,
        reconcile_strategy=strategy,
        generation=7,
        source_revision="main@sha1:0123456789abcdef0123456789abcdef01234567",
        has_values_files=values,
    )
    assert meta == expected
    assert charts.with_version_metadata("6.0.3+old", "x") == "6.0.3+x"


@pytest.mark.parametrize(
    ("patterns", "path", "is_dir", "excluded"),
    [
        ([], ".git", True, True),
        ([], "img/a.png", False, True),
        ([], ".github", True, True),
        ([], "deep/.sops.yaml", False, True),
        ([], "chart/Chart.yaml", False, False),
        (["*.md"], "img/a.png", False, False),  # any pattern replaces the defaults
        (["*.md"], ".git", True, True),  # except the VCS ones
        (["*.md", "!keep.md"], "keep.md", False, False),
        (["/docs/"], "docs", True, True),
        (["/docs/"], "a/docs", True, False),
    ],
)
def test_ignore_rules(patterns: list[str], path: str, is_dir: bool, excluded: bool) -> None:
    assert rules(patterns).excluded(path, is_dir) is excluded


def test_nested_sourceignore_is_relative_to_its_directory() -> None:
    r = rules([], {"sub": ["*.txt"]})
    assert r.excluded("sub/a.txt", False)
    assert not r.excluded("a.txt", False)


@pytest.mark.parametrize(
    ("files", "keep", "garbage"),
    [
        ([("a", 100.0), ("b", 90.0), ("c", 80.0)], "a", ["c"]),  # 2 records: a and b stay
        ([("a", 100.0), ("b", 10.0)], "a", ["b"]),  # b is older than the TTL
        ([("a", 100.0)], "a", []),
        ([("a", 10.0), ("b", 100.0)], "a", []),  # the current one stays, however old
    ],
)
def test_garbage_selection(files: list[tuple[str, float]], keep: str, garbage: list[str]) -> None:
    assert select_garbage(files, keep=keep, records=2, ttl=60, now=100.0) == garbage


def _tgz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


CHART_YAML = b"apiVersion: v2\nname: c\nversion: 1.0.0\n"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_file("c/Chart.yaml", CHART_YAML), _file("c/../../etc/passwd")], "unsafe path"),
        ([_file("/etc/passwd")], "unsafe path"),
        (
            [_file("c/Chart.yaml", CHART_YAML), _link("c/link", "/etc/passwd")],
            "link or special file",
        ),
        ([_file("c/Chart.yaml", CHART_YAML), _file("c/big", b"0" * 2048)], "maximum file size"),
        ([_file("c/Chart.yaml", CHART_YAML), _file("d/x")], "more than one top directory"),
        ([_file("c/values.yaml")], "no Chart.yaml"),
    ],
)
def test_chart_package_refusals(members: list[tuple[tarfile.TarInfo, bytes]], message: str) -> None:
    with pytest.raises(charts.ChartError, match=message):
        charts.read_package(_tgz(members), charts.Limits(chart=4096, file=1024))


def test_decompression_bomb_stops_at_the_cap() -> None:
    bomb = _tgz(
        [_file("c/Chart.yaml", CHART_YAML)] + [_file(f"c/f{i}", b"\0" * 1000) for i in range(50)]
    )
    assert len(bomb) < 4096  # small on the wire
    with pytest.raises(charts.ChartError, match="decompressed chart exceeds"):
        charts.read_package(bomb, charts.Limits(chart=10_000, file=2000))


def test_extract_refuses_escapes(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="unsafe path"):
        extract_tgz(_tgz([_file("../x")]), tmp_path, max_total=1000)
    with pytest.raises(ArchiveError, match="points outside"):
        extract_tgz(_tgz([_link("l", "../../etc")]), tmp_path, max_total=1000)
    with pytest.raises(ArchiveError, match="maximum size"):
        extract_tgz(
            _tgz([_file("a", b"0" * 600), _file("b", b"0" * 600)]), tmp_path, max_total=1000
        )
    (tmp_path / "x").mkdir()
    extract_tgz(_tgz([_file("ok/a", b"1"), _link("ok/l", "a")]), tmp_path / "x", max_total=1000)
    assert (tmp_path / "x" / "ok" / "l").read_bytes() == b"1"


def test_values_merge() -> None:
    merged = charts.merge_values_files(
        [("a", b"a: 1\nm: {x: 1, y: 1}\nl: [1]\n"), ("b", b"m: {y: 2}\nl: [2]\n"), ("c", b"")]
    )
    assert merged == {"a": 1, "m": {"x": 1, "y": 2}, "l": [2]}


def test_credentials_read_from_secret_data() -> None:
    assert basic_auth({"username": b"flux", "password": b"s3cret"}) == ("flux", "s3cret")
    assert basic_auth({"username": b"flux", "password": b""}) is None
    assert basic_auth({}) is None
    data = {"tls.crt": b"cert", "ca.crt": b"ca", "caFile": b"old-ca"}
    assert tls_material(data) == TLSMaterial(b"cert", None, b"ca")
    assert tls_material(data, LEGACY_TLS_KEYS) == TLSMaterial(None, None, b"old-ca")
    assert not TLSMaterial()
    auth = GitAuth.from_secret({"bearerToken": b"t", "caFile": b"old-ca", "identity": b"key"})
    assert auth == GitAuth(bearer_token="t", ca=b"old-ca", identity=b"key")
