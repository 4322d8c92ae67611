"""Revision strings, as Flux writes them. Pure functions with table tests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def git_revision(ref_name: str | None, commit: str) -> str:
    """`main@sha1:<hex>` for a branch, tag (`v1.0`) or full ref name; `sha1:<hex>` when the
    checkout was by commit alone."""
    digest = f"sha1:{commit}" if ":" not in commit else commit
    return f"{ref_name}@{digest}" if ref_name else digest


def digest_of_revision(revision: str) -> str:
    """The hex digest inside a revision (`main@sha1:abc` → `abc`, `sha256:abc` → `abc`)."""
    return revision.rsplit("@", 1)[-1].split(":", 1)[-1]


def bucket_revision(etags: Mapping[str, str]) -> str:
    """sha256 over `key etag\\n` lines sorted by key, as source-controller's etag index."""
    h = hashlib.sha256()
    for key in sorted(etags):
        h.update(f"{key} {etags[key]}\n".encode())
    return f"sha256:{h.hexdigest()}"


def chart_version_metadata(
    *,
    source_kind: str,
    reconcile_strategy: str,
    generation: int,
    source_revision: str,
    has_values_files: bool,
) -> str | None:
    """The build metadata Flux appends to a HelmChart's version, or None:

    - Git or Bucket with the Revision strategy: 12 hex digits of the source revision's digest
      (`6.0.3+8d1a2c3e4f5a`);
    - any source with valuesFiles: the HelmChart's generation, after a `.` when there is
      already metadata (`6.0.3+4`, `6.0.3+8d1a2c3e4f5a.4`);
    - otherwise nothing (`6.0.3`)."""
    meta = ""
    if source_kind in ("GitRepository", "Bucket") and reconcile_strategy == "Revision":
        meta = digest_of_revision(source_revision)[:12]
    if has_values_files:
        meta = f"{meta}.{generation}" if meta else str(generation)
    return meta or None
