"""`$VAR` and `${VAR}` in a string, expanded as Go's `os.ExpandEnv` does."""

from __future__ import annotations

from collections.abc import Mapping

# The one-character names a shell gives special meaning: `$1`, `$$`, `${#}`.
_SPECIAL = frozenset("*#$@!?-0123456789")


def _is_name_char(ch: str) -> bool:
    return ch == "_" or (ch.isascii() and ch.isalnum())


def _name(text: str) -> tuple[str, int]:
    """The variable name `text` (what follows a `$`) begins with, and how many characters it
    takes. An empty name with a width means bad syntax, which Go drops."""
    if text[0] == "{":
        if len(text) > 2 and text[1] in _SPECIAL and text[2] == "}":
            return text[1], 3
        end = text.find("}", 1)
        if end == 1:
            return "", 2
        if end == -1:
            return "", 1
        return text[1:end], end + 1
    if text[0] in _SPECIAL:
        return text[0], 1
    width = 0
    while width < len(text) and _is_name_char(text[width]):
        width += 1
    return text[:width], width


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """`text` with each variable replaced by its value in `environ`; unset ones become empty.

    A `$` before anything that cannot start a name (and a trailing `$`) stays as written."""
    out: list[str] = []
    start = 0
    pos = 0
    while pos < len(text):
        if text[pos] == "$" and pos + 1 < len(text):
            out.append(text[start:pos])
            name, width = _name(text[pos + 1 :])
            if name:
                out.append(environ.get(name, ""))
            elif width == 0:
                out.append("$")
            pos += width
            start = pos + 1
        pos += 1
    out.append(text[start:])
    return "".join(out)
