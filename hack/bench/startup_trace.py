"""`helmward run` as `python -m controller.cli run` starts it, with the process's CPU
(time.process_time) noted at the start-up's phases into the file named by the first argument;
the rest are the command line. Run by hack/bench/startup.py with its working directory and
PYTHONPATH at the tree under test; it imports only the standard library and that tree, and the
phases are marked from here (wrapping), so the controller's code carries no tracing.

Marks, in order: `imports` (the modules and the command line parsed, as `app.main` is called),
`engine` and `engine_loaded` (around the Go engine's load), `synced` (the HelmRelease
controller's informer and the ones it waits for have listed).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

marks_path, argv = sys.argv[1], sys.argv[2:]
marks = open(marks_path, "w", buffering=1)  # noqa: SIM115 - open for the process's life
PROFILE = os.environ.get("HELMWARD_PROBE_PROFILE")
"""A file for a cProfile of the start, from here to the first reconcile's log line."""
if PROFILE:
    import cProfile
    import logging

    profiler = cProfile.Profile()
    handle = logging.Logger.handle

    def _stop_at_first_reconcile(self: logging.Logger, record: logging.LogRecord) -> None:
        if record.name.startswith("controller.helmrelease.") and profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(PROFILE))
            logging.Logger.handle = handle  # type: ignore[method-assign]
        handle(self, record)

    logging.Logger.handle = _stop_at_first_reconcile  # type: ignore[method-assign]
    profiler.enable()


def mark(name: str) -> None:
    marks.write(f"{name} {time.process_time():.4f}\n")


mark("interpreter")
from internal.kube.lazyclient import defer_generated_client  # noqa: E402

defer_generated_client()
import controller.cli  # noqa: E402

_parse = controller.cli.parse


def parse(argv: list[str] | None = None) -> Any:
    args = _parse(argv)
    import controller.app as app  # what `main` imports next

    engine_class = getattr(app, "Engine")  # noqa: B009 - not exported; wrapped for the marks

    def engine(*a: Any, **kw: Any) -> Any:
        mark("engine")
        loaded = engine_class(*a, **kw)
        mark("engine_loaded")
        return loaded

    setattr(app, "Engine", engine)  # noqa: B010
    from controller.runtime.controller import Controller

    run = Controller.run

    async def traced(self: Any) -> None:
        if self.name == "HelmRelease":
            import asyncio

            async def synced() -> None:
                for informer in (self.informer, *self.waits_for):
                    await informer.synced.wait()
                mark("synced")

            self._startup_mark = asyncio.ensure_future(synced())
        await run(self)

    Controller.run = traced  # type: ignore[method-assign]
    mark("imports")
    return args


controller.cli.parse = parse
sys.exit(controller.cli.main(argv))
