"""Helm chart packages: safe extraction with caps, metadata, valuesFiles merging, version
metadata for Flux's revision formats, and reproducible packaging."""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from internal.sources.archive import MAX_ENTRIES, ArchiveError, BoundedStream
from internal.sources.semver import SemverError, Version
from internal.values import yamldoc
from internal.values.compose import merge_maps

DEFAULT_MAX_CHART_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024


class ChartError(ValueError):
    """The chart is invalid, unsafe or over a cap; the message says which."""


@dataclass(frozen=True)
class Limits:
    chart: int = DEFAULT_MAX_CHART_SIZE
    """Cap on the compressed package and on the total extracted bytes."""
    file: int = DEFAULT_MAX_FILE_SIZE
    """Cap on any single file."""


@dataclass(frozen=True)
class ChartMetadata:
    name: str
    version: str
    api_version: str
    raw: Mapping[str, Any]

    @property
    def dependencies(self) -> list[Mapping[str, Any]]:
        deps = self.raw.get("dependencies") or []
        return [d for d in deps if isinstance(d, Mapping)]


_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def load_yaml(data: bytes | str, what: str) -> Any:
    try:
        return yamldoc.load(data)
    except yaml.YAMLError as exc:
        raise ChartError(f"invalid YAML in {what}: {exc}") from None


def parse_metadata(data: bytes) -> ChartMetadata:
    raw = load_yaml(data, "Chart.yaml")
    if not isinstance(raw, Mapping):
        raise ChartError("invalid Chart.yaml: not a mapping")
    name, version = raw.get("name"), raw.get("version")
    if not isinstance(name, str) or not name:
        raise ChartError("invalid Chart.yaml: chart.metadata.name is required")
    if not _NAME.match(name):
        raise ChartError(f"invalid Chart.yaml: chart name {name!r} is not valid")
    if isinstance(version, int | float):
        raise ChartError(f"invalid Chart.yaml: version {version!r} must be a string")
    if not isinstance(version, str) or not version:
        raise ChartError("invalid Chart.yaml: chart.metadata.version is required")
    try:
        Version.parse(version)
    except SemverError:
        raise ChartError(f"invalid Chart.yaml: version {version!r} is not a valid SemVer") from None
    if not isinstance(raw.get("dependencies") or [], list):
        raise ChartError("invalid Chart.yaml: dependencies must be a list")
    api = raw.get("apiVersion")
    return ChartMetadata(name, version, api if isinstance(api, str) and api else "v1", raw)


def _safe_member_name(name: str) -> str:
    """The member's path with the top directory kept, or an error for anything that could
    escape the extraction directory."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise ChartError(f"unsafe path in chart archive: {name!r}")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm.startswith("/"):
        raise ChartError(f"unsafe path in chart archive: {name!r}")
    return norm


def read_package(data: bytes, limits: Limits = Limits()) -> dict[str, bytes]:
    """The files of a chart package (.tgz) by path below the chart's top directory. Refuses
    links, devices, paths that leave the archive, more than one top directory, files over the
    file cap and a total over the chart cap (decompression bombs stop at the cap, never
    reading further)."""
    if len(data) > limits.chart:
        raise ChartError(
            f"chart package size {len(data)} exceeds the maximum chart size of {limits.chart} bytes"
        )
    files: dict[str, bytes] = {}
    total = 0
    top: str | None = None
    try:
        stream = BoundedStream(gzip.GzipFile(fileobj=io.BytesIO(data)))
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for count, member in enumerate(tar, 1):
                tar.members.clear()  # a stream needs no index; it would grow per member
                stream.allow(member.size)
                if count > MAX_ENTRIES:
                    raise ChartError(f"chart archive holds more than {MAX_ENTRIES} entries")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ChartError(f"chart archive holds a link or special file: {member.name!r}")
                name = _safe_member_name(member.name)
                head, _, rest = name.partition("/")
                if not rest:
                    raise ChartError(f"chart archive file {name!r} is outside the chart directory")
                if top is None:
                    top = head
                elif head != top:
                    raise ChartError(
                        f"chart archive has more than one top directory: {top!r} and {head!r}"
                    )
                if member.size > limits.file:
                    raise ChartError(
                        f"file {name!r} is {member.size} bytes, "
                        f"over the maximum file size of {limits.file} bytes"
                    )
                total += member.size
                if total > limits.chart:
                    raise ChartError(
                        f"decompressed chart exceeds the maximum chart size of {limits.chart} bytes"
                    )
                src = tar.extractfile(member)
                content = src.read(limits.file + 1) if src else b""
                if len(content) != member.size:
                    raise ChartError(f"truncated file {name!r} in chart archive")
                files[rest] = content
    except ArchiveError as exc:
        raise ChartError(f"invalid chart archive: {exc}") from None
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ChartError(f"invalid chart archive: {exc}") from None
    if "Chart.yaml" not in files:
        raise ChartError("chart archive has no Chart.yaml")
    return files


def read_directory(root: Path, limits: Limits = Limits()) -> dict[str, bytes]:
    """The files of a chart directory, with the same caps and refusing symlinks that point
    outside `root` (those inside are followed as Helm does)."""
    root_resolved = root.resolve()
    if not (root / "Chart.yaml").is_file():
        raise ChartError(f"no Chart.yaml in chart directory {root.name!r}")
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        real = path.resolve()
        if not real.is_relative_to(root_resolved):
            raise ChartError(f"symlink {rel!r} points outside the chart directory")
        if not real.is_file():
            continue
        size = real.stat().st_size
        if size > limits.file:
            raise ChartError(
                f"file {rel!r} is {size} bytes, over the maximum file size of {limits.file} bytes"
            )
        total += size
        if total > limits.chart:
            raise ChartError(
                f"chart directory exceeds the maximum chart size of {limits.chart} bytes"
            )
        files[rel] = real.read_bytes()
    return files


def merge_values_files(documents: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
    """Merge values documents in order, the last winning."""
    merged: dict[str, Any] = {}
    for name, data in documents:
        loaded = load_yaml(data, name)
        if loaded is None:
            continue
        if not isinstance(loaded, Mapping):
            raise ChartError(f"values file {name!r} is not a mapping")
        merged = merge_maps(merged, loaded)
    return merged


def with_version_metadata(version: str, metadata: str) -> str:
    """`6.0.3` + `abc` → `6.0.3+abc`, replacing any build metadata already there."""
    return f"{version.split('+', 1)[0]}+{metadata}"


def set_chart_version(chart_yaml: bytes, version: str) -> bytes:
    raw = load_yaml(chart_yaml, "Chart.yaml")
    if not isinstance(raw, dict):
        raise ChartError("invalid Chart.yaml: not a mapping")
    raw["version"] = version
    return yaml.safe_dump(raw, sort_keys=False).encode()


def package(files: Mapping[str, bytes], name: str) -> bytes:
    """A reproducible .tgz with every file under `<name>/`: sorted, times and owners zeroed."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in sorted(files):
            content = files[rel]
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def package_filename(name: str, version: str) -> str:
    return f"{name}-{version}.tgz"


def inside(root: Path, rel: str) -> Path | None:
    """`root/rel` resolved, or None when it leaves `root` (through `..` or a symlink)."""
    base = root.resolve()
    path = (base / rel).resolve()
    return path if path.is_relative_to(base) else None


def read_values_files(root: Path, names: list[str]) -> list[tuple[str, bytes | None]]:
    """Each values file under `root`, or None for one that is missing or leaves `root`."""
    out: list[tuple[str, bytes | None]] = []
    for name in names:
        path = inside(root, name)
        out.append((name, path.read_bytes() if path is not None and path.is_file() else None))
    return out


def is_chart_dir(path: Path) -> bool:
    return (path / "Chart.yaml").is_file()
