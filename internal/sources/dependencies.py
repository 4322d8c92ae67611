"""Decisions about a chart's dependencies before and after Helm builds them: which are declared
(Chart.yaml, or requirements.yaml for apiVersion v1), whether they are all vendored in charts/,
where file:// ones point, which HelmRepository serves a dependency URL, and the key the built
files are stored under."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from internal.sources.chart import ChartError, ChartMetadata, load_yaml

FILE_SCHEME = "file://"
OCI_SCHEME = "oci://"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def declared(files: Mapping[str, bytes], metadata: ChartMetadata) -> list[Mapping[str, Any]]:
    """The dependencies Helm reads: Chart.yaml's, or requirements.yaml's for apiVersion v1."""
    if metadata.api_version == "v1" and "requirements.yaml" in files:
        raw = load_yaml(files["requirements.yaml"], "requirements.yaml")
        deps = raw.get("dependencies") if isinstance(raw, Mapping) else None
        return [d for d in deps or [] if isinstance(d, Mapping)]
    return metadata.dependencies


def lock_name(metadata: ChartMetadata) -> str:
    return "requirements.lock" if metadata.api_version == "v1" else "Chart.lock"


def top_level_charts(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files directly in charts/ (packaged subcharts and anything else lying there)."""
    return {
        k: v for k, v in files.items() if k.startswith("charts/") and "/" not in k[len("charts/") :]
    }


def vendored(files: Mapping[str, bytes], name: str) -> bool:
    """Whether charts/ already holds the dependency `name`, unpacked or packaged."""
    if f"charts/{name}/Chart.yaml" in files:
        return True
    return any(
        k.startswith(f"charts/{name}-") and k.endswith(".tgz") for k in top_level_charts(files)
    )


def needs_build(files: Mapping[str, bytes], deps: Sequence[Mapping[str, Any]]) -> bool:
    """Flux's rule: nothing is built when every dependency is already in charts/."""
    return any(not vendored(files, str(d.get("name") or "")) for d in deps)


def local_path(repository: str, chart_rel: str) -> str | None:
    """The path, relative to the source root, a file:// repository of the chart at `chart_rel`
    names; None when it is absolute or climbs out of the root. Symlinks are checked by the
    caller on disk."""
    target = repository.removeprefix(FILE_SCHEME)
    if not target or target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(chart_rel, target))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def oci_matches(repo_url: str, dep_url: str) -> bool:
    """Whether an OCI HelmRepository's URL covers an oci:// dependency URL: the same URL, or a
    prefix of it ending at a path segment."""
    base = repo_url.rstrip("/")
    dep = dep_url.rstrip("/")
    return dep == base or dep.startswith(base + "/")


def oci_host(url: str) -> str:
    """host[:port] of an oci:// URL."""
    return url.removeprefix(OCI_SCHEME).split("/", 1)[0]


def is_loopback(host: str) -> bool:
    hostname = urlsplit(f"//{host}").hostname or ""
    return hostname in LOOPBACK_HOSTS


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_digest(files: Mapping[str, bytes]) -> str:
    """One digest of a set of files, by path and content."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class KeyInputs:
    """What the built dependencies of a chart depend on."""

    namespace: str
    dependencies: Sequence[Mapping[str, Any]]
    lock: bytes | None
    """The committed lock file, if any."""
    source_revision: str
    """Used only without a committed lock, when Helm resolves versions afresh."""
    local: Mapping[str, str]
    """The digest of each file:// dependency's files, by repository."""
    vendored: str
    """The digest of the files already in charts/."""


def storage_key(inputs: KeyInputs) -> str:
    """The key the built files are stored under. The namespace is part of it, so files fetched
    with one namespace's credentials never serve another. With a committed lock, its content
    pins the versions; without one, the source revision stands for the moment of resolution."""
    doc = {
        "namespace": inputs.namespace,
        "dependencies": list(inputs.dependencies),
        "lock": _digest(inputs.lock) if inputs.lock is not None else None,
        "revision": None if inputs.lock is not None else inputs.source_revision,
        "local": dict(sorted(inputs.local.items())),
        "vendored": inputs.vendored,
    }
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(raw).hexdigest()


def check_built(
    charts: Iterable[tuple[str, int]], max_chart: int, total: int, max_total: int
) -> None:
    """Refuse a build whose subchart packages, or all of them with the chart, exceed the chart
    size limit."""
    for name, size in charts:
        if size > max_chart:
            raise ChartError(
                f"dependency package {name} of {size} bytes exceeds the maximum chart size of "
                f"{max_chart} bytes"
            )
    if total > max_total:
        raise ChartError(
            f"chart with its dependencies is {total} bytes, over the maximum chart size of "
            f"{max_total} bytes"
        )
