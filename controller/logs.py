"""Logging as Flux's controllers log: controller-runtime's zap logger, JSON or console.

`--log-encoding=json` writes one JSON object per line with controller-runtime's keys (`level`,
`ts`, `logger`, `msg`, then the fields); `console` writes the same record tab-separated for
people. While a controller reconciles an object, `reconciling` puts the object and a reconcile
id in a context variable, and every record logged meanwhile (in the reconcile's tasks and
threads too) carries them as controller-runtime's do: `controller`, `controllerGroup`,
`controllerKind`, `<Kind>: {name, namespace}`, `namespace`, `name`, `reconcileID`.

Tracebacks are Flux's stack traces: written (as a `stacktrace` field) only at the debug and
trace levels; otherwise an exception is its message in the `error` field, on the same line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from internal.values.redact import REDACTOR

TRACE = 5
"""logr's V(2), Flux's `trace` level."""

LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}
"""Flux's --log-level values (fluxcd/pkg/runtime/logger); any other value means info there."""

ENCODINGS = ("json", "console")
"""Flux's --log-encoding values; any other value means json there (zap's production default)."""

GROUPS = {
    "HelmRelease": "helm.toolkit.fluxcd.io",
    "HelmRepository": "source.toolkit.fluxcd.io",
    "GitRepository": "source.toolkit.fluxcd.io",
    "Bucket": "source.toolkit.fluxcd.io",
    "OCIRepository": "source.toolkit.fluxcd.io",
    "HelmChart": "source.toolkit.fluxcd.io",
}


@dataclass(frozen=True)
class Reconcile:
    """The object a controller is reconciling, as controller-runtime names it in its logs."""

    kind: str
    namespace: str
    name: str
    reconcile_id: str
    group: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "controller": self.kind.lower(),
            "controllerGroup": self.group or GROUPS.get(self.kind, ""),
            "controllerKind": self.kind,
            self.kind: {"name": self.name, "namespace": self.namespace},
            "namespace": self.namespace,
            "name": self.name,
            "reconcileID": self.reconcile_id,
        }


current: contextvars.ContextVar[Reconcile | None] = contextvars.ContextVar(
    "helmward_reconcile", default=None
)


@contextlib.contextmanager
def reconciling(kind: str, key: str, group: str = "") -> Iterator[Reconcile]:
    """Within this block, log records carry `key` (`namespace/name`) and a new reconcile id."""
    namespace, _, name = key.rpartition("/")
    state = Reconcile(kind, namespace, name, str(uuid.uuid4()), group)
    token = current.set(state)
    try:
        yield state
    finally:
        current.reset(token)


def _level_name(levelno: int) -> str:
    if levelno < logging.DEBUG:
        return "trace"
    if levelno < logging.INFO:
        return "debug"
    if levelno < logging.WARNING:
        return "info"
    if levelno < logging.ERROR:
        return "warn"
    return "error"


def _timestamp(created: float) -> str:
    """zap's ISO8601 encoder, in UTC: 2006-01-02T15:04:05.000Z."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Base(logging.Formatter):
    def __init__(self, stacktraces: bool) -> None:
        super().__init__()
        self.stacktraces = stacktraces

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        out: dict[str, Any] = {}
        state = getattr(record, "reconcile", None) or current.get()
        if state is not None:
            out.update(state.fields())
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info and record.exc_info[1] is not None:
            out.setdefault("error", str(record.exc_info[1]) or type(record.exc_info[1]).__name__)
            if self.stacktraces:
                out["stacktrace"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.stack_info and self.stacktraces:
            out["stacktrace"] = record.stack_info
        return out


class JSONFormatter(_Base):
    """One JSON object per record, on one line, in controller-runtime's key names."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": _level_name(record.levelno),
            "ts": _timestamp(record.created),
        }
        if record.name and record.name != "root":
            entry["logger"] = record.name
        entry["msg"] = record.getMessage()
        for key, value in self.fields(record).items():
            entry.setdefault(key, value)
        return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))


class ConsoleFormatter(_Base):
    """zap's console layout: time, LEVEL, logger, message, then the fields as JSON. A record
    about an object leads its message with the object's `namespace/name`; a record may carry a
    `human` message for people in place of the one log pipelines match on."""

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        message = getattr(record, "human", None) or record.getMessage()
        state = getattr(record, "reconcile", None) or current.get()
        if state is not None:
            message = f"{state.kind} {state.namespace}/{state.name}: {message}"
            for key in ("namespace", "name", state.kind):
                fields.pop(key, None)
        stack = fields.pop("stacktrace", None)
        parts = [_timestamp(record.created), _level_name(record.levelno).upper()]
        if record.name and record.name != "root":
            parts.append(record.name)
        parts.append(message)
        if fields:
            parts.append(json.dumps(fields, default=str, ensure_ascii=False))
        line = "\t".join(parts)
        return f"{line}\n{stack.rstrip()}" if stack else line


QUIET = ("botocore", "aiobotocore", "boto3", "urllib3", "azure", "msal")
"""The cloud SDKs' loggers: at debug they write request and response bodies, which carry the
secrets a reference resolves before the redactor knows them. Warnings and errors only."""


class Scrubbing(logging.Formatter):
    """Any formatter's lines with every resolved secret masked (internal.values.redact)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return REDACTOR.scrub(self.inner.format(record))


def setup(level: str = "info", encoding: str = "console", stream: Any = None) -> None:
    """The process's logging: every logger (ours, the Kubernetes client's, asyncio's) through
    one handler on stderr, as controller-runtime writes to stderr."""
    logging.addLevelName(TRACE, "TRACE")
    threshold = LEVELS.get(level, logging.INFO)
    stacktraces = threshold <= logging.DEBUG
    formatter: logging.Formatter = (
        ConsoleFormatter(stacktraces) if encoding == "console" else JSONFormatter(stacktraces)
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Scrubbing(formatter))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))
    logging.captureWarnings(True)
