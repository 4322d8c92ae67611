"""Secret values kept out of every message the controller writes.

References keep secrets out of what Helmward itself says, but Helm's and the API server's errors
can quote a rendered object, and a rendered object can hold a resolved secret (a ConfigMap's
data, an env var, a Secret's base64). Every status message, event and log line passes through
`scrub`, which replaces each secret the process has resolved, and its base64 form, with
`[redacted]`. Values shorter than MIN_LENGTH are not scrubbed: they would blank out common words.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

MIN_LENGTH = 4
MASK = "[redacted]"


def _forms(value: object) -> set[str]:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    out = {text, base64.b64encode(text.encode()).decode()}
    if not isinstance(value, str):
        out.add(str(value))
    return {f for f in out if len(f) >= MIN_LENGTH}


class Redactor:
    def __init__(self) -> None:
        self._by_owner: dict[str, frozenset[str]] = {}
        self._pattern: re.Pattern[str] | None = None

    def remember(self, owner: str, secrets: Iterable[object]) -> None:
        """The secrets resolved for `owner` (a release's key) now; replaces what it had."""
        forms = frozenset(f for value in secrets for f in _forms(value))
        if self._by_owner.get(owner) == forms:
            return
        if forms:
            self._by_owner[owner] = forms
        else:
            self._by_owner.pop(owner, None)
        self._rebuild()

    def forget(self, owner: str) -> None:
        if self._by_owner.pop(owner, None) is not None:
            self._rebuild()

    def scrub(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def _rebuild(self) -> None:
        every = sorted({f for forms in self._by_owner.values() for f in forms}, key=len)
        every.reverse()  # longest first, so a secret inside another is masked whole
        self._pattern = re.compile("|".join(map(re.escape, every))) if every else None


REDACTOR = Redactor()
"""The process's: the resolver remembers into it, every writer of messages scrubs through it."""
