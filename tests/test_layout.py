"""The repository's layering beyond import-linter's packages: hack/ never imports tests/ (what
both need lives in hack/testkit)."""

from __future__ import annotations

import ast
from pathlib import Path

from hack.testkit.paths import REPO_ROOT


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_hack_never_imports_tests() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(
            name for name in _imported(path) if name == "tests" or name.startswith("tests.")
        )
        for path in sorted((REPO_ROOT / "hack").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_sees_an_import_of_tests(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom tests.support import x\nimport tests.e2e as e\n")
    assert _imported(probe) == {"os", "tests.support", "tests.e2e"}
