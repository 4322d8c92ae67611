"""Which files of a source go into its artifact: `.gitignore` syntax from `spec.ignore` and
`.sourceignore` files, over Flux's default exclusions (sourceignore in fluxcd/pkg)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# pathspec is imported where rules are built: a start with no Git, OCI or Bucket source needs it
# not.
if TYPE_CHECKING:
    import pathspec

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
EXCLUDE_EXT = ("*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip")
EXCLUDE_CI = (
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
)
EXCLUDE_EXTRA = ("**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml")


def read_patterns(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Rules:
    """Patterns by the directory they are relative to ('' for the root)."""

    by_domain: tuple[tuple[str, pathspec.GitIgnoreSpec], ...]

    def excluded(self, relpath: str, is_dir: bool) -> bool:
        for domain, spec in self.by_domain:
            if domain:
                if not relpath.startswith(domain + "/"):
                    continue
                sub = relpath[len(domain) + 1 :]
            else:
                sub = relpath
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
        return False


def rules(root_patterns: list[str], nested: dict[str, list[str]] | None = None) -> Rules:
    """Rules with Flux's precedence: the VCS exclusions always; the default exclusions only
    when no pattern at all was given (neither `spec.ignore` nor any `.sourceignore`)."""
    import pathspec

    nested = {d: p for d, p in (nested or {}).items() if p}
    base = list(EXCLUDE_VCS)
    if not root_patterns and not nested:
        base += [*EXCLUDE_EXT, *EXCLUDE_CI, *EXCLUDE_EXTRA]
    specs = [("", pathspec.GitIgnoreSpec.from_lines([*base, *root_patterns]))]
    specs += [(d, pathspec.GitIgnoreSpec.from_lines(p)) for d, p in sorted(nested.items())]
    return Rules(tuple(specs))


def load_rules(
    root: Path, spec_ignore: str | None, *, ignore_file_at_root: str | None = None
) -> Rules:
    """Rules for a checked-out tree: every `.sourceignore` (each relative to its directory),
    then `spec.ignore` on top of the root's."""
    root_patterns: list[str] = []
    nested: dict[str, list[str]] = {}
    if ignore_file_at_root is not None:
        root_patterns += read_patterns(ignore_file_at_root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        if IGNORE_FILE in filenames:
            rel = Path(dirpath).relative_to(root).as_posix()
            patterns = read_patterns(Path(dirpath, IGNORE_FILE).read_text(errors="replace"))
            if rel == ".":
                root_patterns += patterns
            else:
                nested[rel] = patterns
    if spec_ignore is not None:
        root_patterns += read_patterns(spec_ignore)
    return rules(root_patterns, nested)


def as_filter(r: Rules) -> Callable[[str, bool], bool]:
    return r.excluded
