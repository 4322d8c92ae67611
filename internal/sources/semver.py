"""Semantic versions and constraints with the rules of Masterminds/semver v3, which Helm and
source-controller use: lenient version parsing (`v1`, `1.2`), comparator lists joined by `,`
or spaces, alternatives by `||`, `~`, `^`, `x`/`*` wildcards and hyphen ranges. A prerelease
version satisfies a comparator only when that comparator names a prerelease itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import total_ordering

_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


class SemverError(ValueError):
    """An invalid version or constraint."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = field(default="", compare=False)
    original: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION.match(text.strip())
        if m is None:
            raise SemverError(f"invalid semantic version {text!r}")
        pre = m["pre"] or ""
        for ident in pre.split(".") if pre else ():
            if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                raise SemverError(f"invalid semantic version {text!r}: leading zero in prerelease")
        return cls(
            int(m["major"]),
            int(m["minor"] or 0),
            int(m["patch"] or 0),
            pre,
            m["meta"] or "",
            text,
        )

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += f"-{self.prerelease}"
        if self.metadata:
            s += f"+{self.metadata}"
        return s

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        if self._key() != other._key():
            return self._key() < other._key()
        return _prerelease_lt(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key() and self.prerelease == other.prerelease

    def __hash__(self) -> int:
        return hash((self._key(), self.prerelease))


def _prerelease_lt(a: str, b: str) -> bool:
    if a == b:
        return False
    if not a:
        return False  # a release is greater than any of its prereleases
    if not b:
        return True
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        xd, yd = x.isdigit(), y.isdigit()
        if xd and yd:
            return int(x) < int(y)
        if xd != yd:
            return xd  # numeric identifiers sort before alphanumeric ones
        return x < y
    return len(pa) < len(pb)


def parse_version(text: str) -> Version | None:
    try:
        return Version.parse(text)
    except SemverError:
        return None


# Constraints

_OPS = ("!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^")
_PART = r"[0-9xX*]+"
_CVERSION = re.compile(
    rf"^v?(?P<major>{_PART})(?:\.(?P<minor>{_PART}))?(?:\.(?P<patch>{_PART}))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_HYPHEN = re.compile(r"^\s*(\S+)\s+-\s+(\S+)\s*$")

Check = Callable[[Version], bool]


@dataclass(frozen=True)
class _Bound:
    """A constraint's version with its wildcard depth: 0 = none, 1 = patch, 2 = minor,
    3 = major (`*`)."""

    version: Version
    dirty: int


def _bound(text: str) -> _Bound:
    m = _CVERSION.match(text)
    if m is None:
        raise SemverError(f"improper constraint: {text}")
    parts = [m["major"], m["minor"], m["patch"]]
    wild = [p is None or p in ("x", "X", "*") for p in parts]
    dirty = 0
    for i, w in enumerate(wild):
        if w:
            dirty = 3 - i
            break
    try:
        nums = [0 if w else int(p or 0) for p, w in zip(parts, wild, strict=True)]
    except ValueError:  # digits mixed with a wildcard, `0*`
        raise SemverError(f"improper constraint: {text}") from None
    if dirty:
        for i in range(3 - dirty, 3):
            nums[i] = 0
    return _Bound(Version(nums[0], nums[1], nums[2], m["pre"] or "", m["meta"] or "", text), dirty)


def _upper_of(b: _Bound) -> Version:
    """The exclusive upper end of a wildcard bound (`1.2.x` → 1.3.0)."""
    v = b.version
    if b.dirty >= 3:
        return Version(1 << 62, 0, 0)
    if b.dirty == 2:
        return Version(v.major + 1, 0, 0)
    return Version(v.major, v.minor + 1, 0)


def _comparator(op: str, text: str) -> Check:
    b = _bound(text)
    v = b.version
    allows_pre = bool(v.prerelease)

    def guard(check: Check) -> Check:
        def run(x: Version) -> bool:
            if x.prerelease and not allows_pre:
                return False
            return check(x)

        return run

    if op in ("", "="):
        if b.dirty:
            up = _upper_of(b)
            return guard(lambda x: v <= x < up)
        return guard(lambda x: x == v)
    if op == "!=":
        if b.dirty:
            up = _upper_of(b)
            return guard(lambda x: not (v <= x < up))
        return guard(lambda x: x != v)
    if op == ">":
        if b.dirty:
            up = _upper_of(b)
            return guard(lambda x: x >= up)
        return guard(lambda x: x > v)
    if op in (">=", "=>"):
        return guard(lambda x: x >= v)
    if op == "<":
        return guard(lambda x: x < v)
    if op in ("<=", "=<"):
        if b.dirty:
            up = _upper_of(b)
            return guard(lambda x: x < up)
        return guard(lambda x: x <= v)
    if op in ("~", "~>"):
        if b.dirty >= 2 and b.dirty < 3:
            up = Version(v.major + 1, 0, 0)
        elif b.dirty >= 3:
            up = Version(1 << 62, 0, 0)
        else:
            up = Version(v.major, v.minor + 1, 0)
        return guard(lambda x: v <= x < up)
    if op == "^":
        if b.dirty >= 3:
            up = Version(1 << 62, 0, 0)
        elif v.major > 0 or b.dirty == 2:
            up = Version(v.major + 1, 0, 0)
        elif v.minor > 0 or b.dirty == 1:
            up = Version(0, v.minor + 1, 0)
        else:
            up = Version(0, 0, v.patch + 1)
        return guard(lambda x: v <= x < up)
    raise SemverError(f"improper constraint: {op}{text}")


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: alternatives (`||`) of comparator lists that must all hold."""

    text: str
    groups: tuple[tuple[Check, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Constraint:
        groups: list[tuple[Check, ...]] = []
        for alternative in text.split("||"):
            alternative = alternative.strip()
            checks: list[Check] = []
            hyphen = _HYPHEN.match(alternative)
            if hyphen:
                checks.append(_comparator(">=", hyphen[1]))
                checks.append(_comparator("<=", hyphen[2]))
                groups.append(tuple(checks))
                continue
            for token in _tokens(alternative):
                op = next((o for o in _OPS if token.startswith(o)), "")
                rest = token[len(op) :].strip()
                if not rest:
                    raise SemverError(f"improper constraint: {text}")
                checks.append(_comparator(op, rest))
            if not checks:
                checks.append(_comparator(">=", "0.0.0"))
            groups.append(tuple(checks))
        return cls(text, tuple(groups))

    def check(self, version: Version) -> bool:
        return any(all(c(version) for c in group) for group in self.groups)


def _tokens(alternative: str) -> list[str]:
    """Comparators of one alternative: split on commas and on spaces, rejoining an operator
    separated from its version (`>= 1.2`)."""
    raw = [t for part in alternative.split(",") for t in part.split()]
    tokens: list[str] = []
    pending = ""
    for t in raw:
        if t in _OPS:
            pending += t
            continue
        tokens.append(pending + t)
        pending = ""
    if pending:
        raise SemverError(f"improper constraint: {alternative}")
    return tokens


def parse_constraint(text: str) -> Constraint:
    try:
        return Constraint.parse(text)
    except SemverError:
        raise
    except ValueError as exc:  # pragma: no cover - int() of a wildcard mix
        raise SemverError(f"improper constraint: {text}") from exc
