"""What `helmward run` imports before its first reconcile (issue 19's start-up CPU): modules only
some starts need are imported where they are used, and stay out of a plain start."""

from __future__ import annotations

import subprocess
import sys

from hack.testkit.paths import REPO_ROOT

PROBE = """
import sys
from internal.kube.lazyclient import defer_generated_client
defer_generated_client()
import controller.cli
args = controller.cli.parse(["run"])
import controller.app
print(args.command, getattr(args, "handler", None))
for name in sys.argv[1:]:
    print(name, any(m == name or m.startswith(name + ".") for m in sys.modules))
"""

NOT_AT_START = {
    "rich": "the people's commands' output",
    "controller.cli.get": "the people's commands",
    "internal.explain": "`helmward why`",
    "controller.watches": "watches mode, with no watches file",
    "pathspec": "Git, OCI and Bucket ignore rules",
    "importlib.metadata": "`helmward version`",
}


def test_a_plain_start_imports_none_of_what_only_some_starts_need() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *NOT_AT_START],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["run None", *(f"{name} False" for name in NOT_AT_START)]


def test_a_people_command_still_gets_its_parser() -> None:
    probe = "import controller.cli; print(controller.cli.parse(['get', 'hr']).command)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out == "get\n"
