"""Two `helmward run` replicas with leader election: killed and restarted by the harness."""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

from hack.testkit.launcher import Controller, running_controller

LEASE_FLAGS = (
    "--leader-election-lease-duration",
    "6s",
    "--leader-election-renew-deadline",
    "4s",
    "--leader-election-retry-period",
    "1s",
)
ACQUIRED = "acquired lease"


@dataclass
class Replica:
    name: str
    controller: Controller | None = None
    stack: contextlib.AsyncExitStack | None = None
    log: Path | None = None
    starts: int = 0

    def is_leader(self) -> bool:
        """Whether this process acquired the Lease (each start writes a fresh log)."""
        if self.controller is None or self.controller.returncode is not None or self.log is None:
            return False
        return ACQUIRED in self.log.read_text(errors="replace")


@dataclass
class Replicas:
    kubeconfig: Path
    namespace: str
    work: Path
    flags: tuple[str, ...]
    members: list[Replica] = field(default_factory=lambda: [Replica("a"), Replica("b")])
    kills: int = 0
    restarts: int = 0
    exits: int = 0

    async def start(self, replica: Replica) -> None:
        replica.starts += 1
        replica.log = self.work / f"controller-{replica.name}-{replica.starts}.log"
        stack = contextlib.AsyncExitStack()
        replica.controller = await stack.enter_async_context(
            running_controller(
                self.kubeconfig,
                self.work / f"data-{replica.name}",
                namespace=self.namespace,
                flags=(
                    *self.flags,
                    *LEASE_FLAGS,
                    "--leader-election-namespace",
                    self.namespace,
                ),
                log=replica.log,
                grace=60,
            )
        )
        replica.stack = stack

    async def start_all(self) -> None:
        for r in self.members:
            await self.start(r)

    def leader(self) -> Replica | None:
        leaders = [r for r in self.members if r.is_leader()]
        return leaders[0] if len(leaders) == 1 else None

    async def kill_and_restart(self, replica: Replica) -> None:
        """SIGKILL, then a fresh process in its place (it becomes the standby)."""
        assert replica.controller is not None
        assert replica.stack is not None
        replica.controller.send_signal(signal.SIGKILL)
        await replica.controller.wait()
        await replica.stack.aclose()
        self.kills += 1
        await self.start(replica)
        self.restarts += 1

    async def revive(self) -> None:
        """Restart a replica that exited by itself (as the kubelet would: a lost Lease ends the
        process, as in Flux)."""
        for r in self.members:
            if r.controller is not None and r.controller.returncode is not None:
                assert r.stack is not None
                await r.stack.aclose()
                self.exits += 1
                await self.start(r)
                self.restarts += 1

    async def stop_all(self) -> None:
        for r in self.members:
            if r.stack is not None:
                await r.stack.aclose()
                r.stack = None
