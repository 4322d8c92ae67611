"""spec.include of a GitRepository: where each included artifact goes, copying it there, and
whether the artifact must be built again (the content config Flux compares: ignore rules,
submodules, sparse directories, the includes and the included artifacts)."""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from api.meta import Artifact
from api.sources import GitRepositoryInclude, GitRepositorySpec, GitRepositoryStatus
from internal.sources.archive import extract_tgz


class IncludePathError(ValueError):
    """A fromPath or toPath that leaves the artifact."""


@dataclass(frozen=True)
class IncludePaths:
    source: str
    """Inside the included artifact; '' for its root."""
    target: str
    """Inside the including artifact; never its root."""


def _relative(path: str, field: str, name: str) -> str:
    if path.startswith("/") or "\x00" in path:
        raise IncludePathError(f"{field} '{path}' of include '{name}' must be a relative path")
    norm = posixpath.normpath(path) if path else "."
    if norm == ".." or norm.startswith("../"):
        raise IncludePathError(f"{field} '{path}' of include '{name}' leaves the artifact")
    return "" if norm == "." else norm


def include_paths(include: GitRepositoryInclude) -> IncludePaths:
    """fromPath (default: the root) and toPath (default: the included repository's name),
    both kept inside their artifacts."""
    name = include.repository.name
    source = _relative(include.from_path or "", "fromPath", name)
    target = _relative(include.to_path or name, "toPath", name)
    if not target:
        raise IncludePathError(f"toPath '{include.to_path}' of include '{name}' is the root")
    return IncludePaths(source, target)


def copy_include(
    archive: Path, paths: IncludePaths, tree: Path, *, max_total: int, scratch: Path
) -> None:
    """Extract `archive` and copy its `paths.source` to `paths.target` under `tree`, merging
    into what is there (files of the include win)."""
    with tempfile.TemporaryDirectory(prefix="include-", dir=scratch) as tmp:
        unpacked = Path(tmp)
        extract_tgz(archive, unpacked, max_total=max_total)
        source = unpacked / paths.source if paths.source else unpacked
        if source.is_symlink() or not source.is_dir():
            raise FileNotFoundError(f"no directory '{paths.source}' in the included artifact")
        target = tree / paths.target
        if not _inside(tree, target):
            raise IncludePathError(f"toPath '{paths.target}' leaves the artifact")
        _merge(source, target)


def _merge(source: Path, target: Path) -> None:
    """Copy the tree `source` onto `target`, never through a link: a link in the way (in the
    checkout) is replaced, so nothing is written outside `target`."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        dest = target / entry.name
        if entry.is_symlink():
            continue  # artifacts hold none; never copied
        if entry.is_dir():
            _merge(entry, dest)
            continue
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.is_dir():
            shutil.rmtree(dest)
        shutil.copyfile(entry, dest)
        shutil.copymode(entry, dest)


def _inside(root: Path, path: Path) -> bool:
    """`path` stays under `root` once the links already in the tree are followed."""
    root = root.resolve()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.resolve().is_relative_to(root)


def content_changed(
    spec: GitRepositorySpec, status: GitRepositoryStatus | None, included: Sequence[Artifact]
) -> bool:
    """Whether the artifact in `status` was built from other content settings than `spec`
    asks for, or from other included artifacts than `included` (by revision and digest)."""
    if status is None:
        return True
    if spec.ignore != status.observed_ignore:
        return True
    if bool(spec.recurse_submodules) != bool(status.observed_recurse_submodules):
        return True
    if (spec.sparse_checkout or []) != (status.observed_sparse_checkout or []):
        return True
    includes = spec.include or []
    observed = status.observed_include or []
    before = status.included_artifacts or []
    if not (len(includes) == len(observed) == len(before) == len(included)):
        return True
    for want, seen, old, new in zip(includes, observed, before, included, strict=True):
        if want != seen or old.revision != new.revision or old.digest != new.digest:
            return True
    return False
