"""Pure decisions of the OCI sources: registry credentials from a dockerconfigjson Secret, tag
selection for HelmCharts and OCIRepositories, and OCIRepository revisions."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from internal.sources.semver import Constraint, SemverError, Version, parse_version

DOCKERCONFIGJSON_KEY = ".dockerconfigjson"


class OCIError(ValueError):
    """A reference, a Secret or a selection that cannot work."""


class NoMatchingTagError(OCIError):
    """No tag satisfies the version, constraint or filter."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def split_url(url: str) -> tuple[str, str]:
    """`oci://host[:port]/path` as (host, path); the path may be empty for HelmRepositories."""
    if not url.startswith("oci://"):
        raise OCIError(f"URL must start with oci://, got '{url}'")
    rest = url[len("oci://") :].rstrip("/")
    host, _, path = rest.partition("/")
    if not host:
        raise OCIError(f"URL has no registry host: '{url}'")
    if "@" in path or ":" in path:
        raise OCIError(f"URL must carry neither tag nor digest: '{url}'")
    return host, path


def _host_of_key(key: str) -> str:
    """The host of an `auths` key: `host`, `host:port`, `https://host/v1/`."""
    if "://" in key:
        return urlsplit(key).netloc
    return key.split("/", 1)[0]


def docker_credentials(config: bytes, host: str) -> Credentials | None:
    """The credentials for `host` in a dockerconfigjson document, or None when it has none.
    Docker Hub's aliases are not special-cased: the key must name the host."""
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OCIError(f"invalid {DOCKERCONFIGJSON_KEY}: {exc}") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        raise OCIError(f"invalid {DOCKERCONFIGJSON_KEY}: no 'auths' object")
    for key, entry in auths.items():
        if _host_of_key(str(key)) != host or not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
            except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error, non-ASCII text
                raise OCIError(f"invalid 'auth' for '{key}': {exc}") from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise OCIError(f"invalid 'auth' for '{key}': not username:password")
        if username and password:
            return Credentials(str(username), str(password))
        raise OCIError(f"the entry for '{key}' has no username and password")
    return None


def select_chart_tag(tags: Iterable[str], version: str) -> str:
    """The chart version to pull from Helm's semver tags, as source-controller picks it: the
    exact version when listed, else the newest version satisfying the constraint (`*` or empty:
    the newest stable one; prereleases only for constraints that name one)."""
    listed = list(tags)
    if version and version in listed:
        return version
    text = "*" if version in ("", "*") else version
    try:
        constraint = Constraint.parse(text)
    except SemverError as exc:
        raise OCIError(f"invalid version constraint '{version}': {exc}") from None
    parsed = sorted(
        ((v, t) for t in listed if (v := parse_version(t)) is not None),
        key=lambda p: p[0],
        reverse=True,
    )
    for v, t in parsed:
        if constraint.check(v):
            return t
    if not listed:
        raise NoMatchingTagError("no tags found in the repository")
    raise NoMatchingTagError(f"no tag matches version '{version}'")


def select_semver_tag(tags: Iterable[str], semver: str, semver_filter: str | None = None) -> str:
    """OCIRepository's `ref.semver`: the highest tag in the range among the tags that parse as
    semantic versions (a leading `v` allowed) and match `semverFilter`."""
    try:
        constraint = Constraint.parse(semver)
    except SemverError as exc:
        raise OCIError(f"semver '{semver}' parse error: {exc}") from None
    pattern = None
    if semver_filter:
        try:
            pattern = re.compile(semver_filter)
        except re.error as exc:
            raise OCIError(f"semverFilter '{semver_filter}' parse error: {exc}") from None
    best: tuple[Version, str] | None = None
    for tag in tags:
        if pattern is not None and not pattern.search(tag):
            continue
        v = parse_version(tag)
        if v is None or not constraint.check(v):
            continue
        if best is None or v > best[0]:
            best = (v, tag)
    if best is None:
        raise NoMatchingTagError(f"no match found for semver: {semver}")
    return best[1]


def revision(tag: str | None, digest: str) -> str:
    """Flux's OCIRepository revision: `<tag>@<digest>`, or the digest alone when pulled by
    digest."""
    return f"{tag}@{digest}" if tag else digest
