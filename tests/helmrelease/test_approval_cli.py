"""`helmward approve` without a cluster: the plan it reads off a HelmRelease, why it finds none,
and that it never approves without `--yes` or a terminal to ask on (end to end:
tests/e2e/test_approval.py)."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest

from controller.cli import approve, parse

DIGEST = "sha256:" + "c" * 64
MESSAGE = (
    f"Helm upgrade awaits approval of plan {DIGEST} (+1 ~0 -2) for release apps/app with chart "
    "app@1.1.0; approve it with 'helmward approve -n apps app'"
)


def release(
    reason: str = "AwaitingApproval",
    message: str = MESSAGE,
    *,
    generation: int = 3,
    observed: int = 3,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    notes = {"helmward.io/approval": "required"} if annotations is None else annotations
    ready = {
        "type": "Ready",
        "status": "False",
        "reason": reason,
        "message": message,
        "observedGeneration": observed,
        "lastTransitionTime": "2024-01-01T00:00:00Z",
    }
    return {
        "metadata": {
            "name": "app",
            "namespace": "apps",
            "generation": generation,
            "annotations": notes,
        },
        "status": {"conditions": [ready]},
    }


def test_the_plan_waiting_is_read_from_ready() -> None:
    got = approve.waiting(release())
    assert got == approve.Waiting("apps", "app", DIGEST, "+1 ~0 -2", MESSAGE, "")
    assert got.as_dict() == {
        "namespace": "apps",
        "name": "app",
        "digest": DIGEST,
        "summary": "+1 ~0 -2",
        "message": MESSAGE,
        "approved": False,
    }


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        (
            release(annotations={}),
            "HelmRelease apps/app does not ask for approval (no helmward.io/approval: required)",
        ),
        (
            release("UpgradeSucceeded", "Helm upgrade succeeded"),
            "no plan of HelmRelease apps/app awaits approval: Ready=False (UpgradeSucceeded)",
        ),
        (
            release(generation=4),
            "HelmRelease apps/app changed since its plan was made (generation 4, plan made for "
            "3): run again once the controller has planned it",
        ),
    ],
)
def test_why_nothing_can_be_approved(obj: dict[str, Any], why: str) -> None:
    with pytest.raises(approve.NothingToApprove) as exc:
        approve.waiting(obj)
    assert str(exc.value) == why


def test_no_terminal_and_no_yes_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = approve.waiting(release())
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: never read
    assert approve.confirmed(plan, argparse.Namespace(yes=False)) is None
    assert approve.confirmed(plan, argparse.Namespace(yes=True)) is True


def test_the_command_line() -> None:
    args = parse(["approve", "app", "-n", "apps", "--yes", "--digest", DIGEST])
    assert (args.name, args.namespace, args.yes, args.digest) == ("app", "apps", True, DIGEST)
    assert args.handler is approve.run


def test_the_plan_as_people_read_it(capsys: pytest.CaptureFixture[str]) -> None:
    approve.show(approve.waiting(release()), argparse.Namespace(output="table"))
    assert capsys.readouterr().out == (
        f"HelmRelease apps/app\n  plan     {DIGEST}\n  summary  +1 ~0 -2\n  message  {MESSAGE}\n"
    )


async def test_every_namespace_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert await approve.run(parse(["approve", "app", "-A"])) == 2
    assert capsys.readouterr().err == "error: approve approves one release: -A does not apply\n"
