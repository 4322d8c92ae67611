"""A YAML document parsed together with where each of its keys and items sits, so an error
deep inside it can name its line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DocumentError(Exception):
    def __init__(self, line: int | None, field: str, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.field = field
        self.reason = reason


def render(path: Sequence[str | int]) -> str:
    """`(1, "selector", "matchLabels")` as `[1].selector.matchLabels`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            # pydantic's mark for an error in a mapping's key, which the path already ends with
            continue
        else:
            out += f".{part}" if out else part
    return out


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


@dataclass(frozen=True)
class Document:
    root: yaml.Node | None
    data: Any

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest part of `path` the document has: the key itself, else the
        mapping or item that should have held it."""
        node = self.root
        if node is None:
            return None
        line = _line(node)
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key, node = child
            line = _line(key)
        return line


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(where the part is written, its value): the key node for a mapping entry."""
    if isinstance(node, yaml.SequenceNode):
        if isinstance(part, int) and 0 <= part < len(node.value):
            item: yaml.Node = node.value[part]
            return item, item
        return None
    if isinstance(node, yaml.MappingNode):
        # The last occurrence wins, as it does when the mapping is constructed.
        for key, value in reversed(node.value):
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    return None


def _duplicates(node: yaml.Node, path: Path, seen: set[int]) -> Iterator[DocumentError]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path, index), seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                if key.value in first:
                    yield DocumentError(
                        _line(key),
                        render((*path, key.value)),
                        f"duplicate key (first at line {first[key.value]})",
                    )
                else:
                    first[key.value] = _line(key)
                yield from _duplicates(value, (*path, key.value), seen)


def parse(text: str) -> Document:
    """One YAML document; a syntax error or a key written twice in a mapping is an error."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            for problem in _duplicates(root, (), set()):
                raise problem
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = ": ".join(part for part in (exc.context, exc.problem) if part)
        raise DocumentError(line, "", reason or "invalid YAML") from None
    except yaml.YAMLError as exc:
        raise DocumentError(None, "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Document(root, data)
