"""Mutation fuzzing of what users hand-edit: HelmRelease and source YAML, and Go durations.

Seeded, bounded and quick, so it runs in `make test`; `HELMWARD_FUZZ_ROUNDS` raises the budget.
The property: bad input is refused with the documented error, never any other exception.
"""

from __future__ import annotations

import copy
import os
import random
from typing import Any

import pytest

import api
from api.duration import DurationError, format_duration, parse_duration_ns
from tests.api.corpus import VALID, load

ROUNDS = int(os.environ.get("HELMWARD_FUZZ_ROUNDS", "200"))

NASTY: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    1.5,
    "",
    " ",
    "5m",
    "-5m",
    "1d",
    "x" * 10_000,
    "\x00",
    "ü",
    [],
    [None],
    {},
    {"": None},
    {"apiVersion": 1},
    [[[]]],
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(doc)[1:] or [("spec",)])
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        choice = rng.random()
        if choice < 0.4:
            parent[key] = rng.choice(NASTY)
        elif choice < 0.6 and isinstance(parent, dict):
            del parent[key]
        elif choice < 0.8 and isinstance(parent, dict):
            parent[f"unknown{rng.randint(0, 9)}"] = rng.choice(NASTY)
        else:
            parent[key] = copy.deepcopy(parent)  # nest a copy of the parent: deep structures
    return doc


@pytest.mark.parametrize("seed", range(4))
def test_mutated_documents_parse_or_raise_parse_error(seed: int) -> None:
    rng = random.Random(seed)
    docs = [load(p) for p in VALID]
    accepted = refused = 0
    for _ in range(ROUNDS):
        model = None
        mutated = _mutate(rng.choice(docs), rng)
        try:
            model = api.parse(mutated)
        except api.ParseError as exc:
            problems = exc.problems
        else:
            problems = []
        if problems or model is None:
            assert problems, "a ParseError must name at least one field"
            refused += 1
            continue
        # Whatever is accepted dumps to something that parses again to the same model.
        assert api.parse(model.to_wire()) == model
        accepted += 1
    assert refused > 0


@pytest.mark.parametrize("seed", range(4))
def test_random_durations_parse_or_raise_duration_error(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "0123456789.hmsuµn-+ x"
    for _ in range(ROUNDS * 5):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            ns = parse_duration_ns(text)
        except DurationError:
            continue
        assert parse_duration_ns(format_duration(ns)) == ns
