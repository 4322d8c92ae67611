"""The watches configuration: which kinds to watch and the chart each one installs, from a
watches file or from the single-watch environment (API_VERSION, KIND, HELM_CHART)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from api.duration import parse_duration
from internal.watches import document
from internal.watches.expand import expand_env
from internal.watches.selector import STRICT, LabelSelector
from internal.watches.values import OverrideError, parse_overrides

UPGRADE_FORCE = "helm.sdk.operatorframework.io/upgrade-force"
ROLLBACK_FORCE = "helm.sdk.operatorframework.io/rollback-force"
UNINSTALL_WAIT = "helm.sdk.operatorframework.io/uninstall-wait"
RECONCILE_PERIOD = "helm.sdk.operatorframework.io/reconcile-period"
FINALIZER = "helm.sdk.operatorframework.io/uninstall-release"
LEGACY_FINALIZER = "uninstall-helm-release"

WATCHES_FILE_ENV = "HELM_CHART_WATCHES"
API_VERSION_ENV = "API_VERSION"
KIND_ENV = "KIND"
CHART_ENV = "HELM_CHART"
SINGLE_WATCH_ENV = (API_VERSION_ENV, KIND_ENV, CHART_ENV)

OCI_PREFIX = "oci://"

DryRunOption = Literal["none", "client", "server", "true", "false"]


class Watch(BaseModel):
    """One watched kind and the chart every object of that kind is released with."""

    model_config = STRICT

    group: str = ""
    version: str
    kind: str
    chart: str
    """A chart directory, a .tgz file, or an oci:// reference."""
    watch_dependent_resources: bool = Field(default=True, alias="watchDependentResources")
    override_values: dict[str, str] = Field(default_factory=dict, alias="overrideValues")
    """--set-string assignments that win over the object's spec."""
    reconcile_period: str | None = Field(default=None, alias="reconcilePeriod")
    max_concurrent_reconciles: int | None = Field(
        default=None, ge=1, alias="maxConcurrentReconciles"
    )
    selector: LabelSelector | None = None
    dry_run_option: DryRunOption | None = Field(default=None, alias="dryRunOption")

    @field_validator("version", "kind", "chart")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("reconcile_period")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < timedelta(0):
            raise ValueError(f"{value!r} is negative")
        return value

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def period(self) -> timedelta | None:
        """reconcilePeriod as a timedelta."""
        return None if self.reconcile_period is None else parse_duration(self.reconcile_period)

    def label_selector(self) -> str | None:
        """The selector as a label-selector string; None when it selects every object."""
        if self.selector is None:
            return None
        return self.selector.to_string() or None

    def overrides(self, environ: Mapping[str, str]) -> dict[str, str]:
        """overrideValues with `$VAR` and `${VAR}` expanded from `environ`."""
        return {key: expand_env(value, environ) for key, value in self.override_values.items()}


@dataclass(frozen=True)
class Problem:
    source: str
    """The watches file, or "" for the environment and the command line."""
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = self.source
        if where and self.line is not None:
            where += f":{self.line}"
        return ": ".join(part for part in (where, self.field, self.reason) if part)


class WatchesError(Exception):
    """Every problem found, one a line, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @classmethod
    def one(
        cls, source: str, reason: str, line: int | None = None, field: str = ""
    ) -> WatchesError:
        return cls([Problem(source, line, field, reason)])


def _known_keys() -> dict[str, str]:
    """Each field's wire name, by its name with case, `_` and `-` ignored."""
    keys = [info.alias or name for name, info in Watch.model_fields.items()]
    return {_fold(key): key for key in keys}


def _fold(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        loc = error["loc"]
        hint = _known_keys().get(_fold(str(loc[0]))) if len(loc) == 1 else None
        return f"unknown field; did you mean {hint}?" if hint else "unknown field"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _chart_problem(chart: str) -> str | None:
    if chart.startswith(OCI_PREFIX):
        return None if chart[len(OCI_PREFIX) :] else f"chart {chart} names no repository"
    path = Path(chart)
    if path.is_dir():
        return None if (path / "Chart.yaml").is_file() else f"chart {chart} has no Chart.yaml"
    if path.is_file():
        if chart.endswith(".tgz"):
            return None
        return f"chart {chart} is neither a chart directory nor a .tgz file"
    return f"chart {chart} does not exist"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    return "a string"


def _entry(
    source: str, doc: document.Document, index: int, entry: Any, environ: Mapping[str, str]
) -> tuple[Watch | None, list[Problem]]:
    def problem(path: tuple[str | int, ...], reason: str) -> Problem:
        full = (index, *path)
        return Problem(source, doc.line_of(full), document.render(full), reason)

    if not isinstance(entry, dict):
        return None, [problem((), f"a watch is a mapping, not {_describe(entry)}")]
    try:
        watch = Watch.model_validate(entry, by_name=False)
    except ValidationError as exc:
        return None, [problem(tuple(err["loc"]), _reason(err)) for err in exc.errors()]
    problems: list[Problem] = []
    chart = _chart_problem(watch.chart)
    if chart:
        problems.append(problem(("chart",), chart))
    expanded = watch.overrides(environ)
    try:
        parse_overrides(expanded)
    except OverrideError as exc:
        problems.append(problem(("overrideValues", exc.key), exc.reason))
    return watch.model_copy(update={"override_values": expanded}), problems


def load(path: Path, environ: Mapping[str, str]) -> list[Watch]:
    """The watches in the file at `path`, their overrideValues expanded from `environ`.

    Raises WatchesError naming the line and the field of every problem found."""
    source = str(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchesError.one(source, f"cannot read the watches file: {exc}") from None
    try:
        doc = document.parse(text)
    except document.DocumentError as exc:
        raise WatchesError.one(source, exc.reason, exc.line, exc.field) from None
    if doc.data is None or doc.data == []:
        raise WatchesError.one(source, "no watches")
    if not isinstance(doc.data, list):
        raise WatchesError.one(
            source, f"expected a list of watches, not {_describe(doc.data)}", doc.line_of(())
        )

    problems: list[Problem] = []
    watches: list[Watch] = []
    first_line: dict[tuple[str, str, str], int] = {}
    for index, entry in enumerate(doc.data):
        watch, found = _entry(source, doc, index, entry, environ)
        problems += found
        if watch is None:
            continue
        line = doc.line_of((index,)) or 0
        gvk = (watch.group, watch.version, watch.kind)
        if gvk in first_line:
            problems.append(
                Problem(
                    source,
                    line,
                    f"[{index}]",
                    f"{watch.kind} of {watch.api_version} is watched twice: "
                    f"lines {first_line[gvk]} and {line}",
                )
            )
        else:
            first_line[gvk] = line
        watches.append(watch)
    if problems:
        raise WatchesError(problems)
    return watches


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _env_set(environ: Mapping[str, str]) -> list[str]:
    return [name for name in SINGLE_WATCH_ENV if environ.get(name)]


_ENV_OF_FIELD = {"group": API_VERSION_ENV, "version": API_VERSION_ENV, "kind": KIND_ENV}


def _env_reason(error: ErrorDetails) -> str:
    field = str(error["loc"][0])
    # API_VERSION holds two fields; say which one is wrong.
    return f"{field} {_reason(error)}" if field in ("group", "version") else _reason(error)


def from_environment(environ: Mapping[str, str]) -> list[Watch]:
    """The single watch API_VERSION, KIND and HELM_CHART describe; [] when none is set."""
    present = _env_set(environ)
    if not present:
        return []
    missing = [name for name in SINGLE_WATCH_ENV if name not in present]
    if missing:
        verb = "is" if len(present) == 1 else "are"
        raise WatchesError.one(
            "", f"{_join(present)} {verb} set but not {_join(missing)}: set all three or none"
        )
    api_version = environ[API_VERSION_ENV]
    if api_version.count("/") > 1:
        raise WatchesError.one(
            "", f"{API_VERSION_ENV}: expected group/version or version, not {api_version!r}"
        )
    group, _, version = api_version.rpartition("/")
    try:
        watch = Watch(
            group=group, version=version, kind=environ[KIND_ENV], chart=environ[CHART_ENV]
        )
    except ValidationError as exc:
        raise WatchesError(
            [
                Problem(
                    "", None, _ENV_OF_FIELD.get(str(err["loc"][0]), CHART_ENV), _env_reason(err)
                )
                for err in exc.errors()
            ]
        ) from None
    chart = _chart_problem(watch.chart)
    if chart:
        raise WatchesError.one("", chart, field=CHART_ENV)
    return [watch]


def configured(watches_file: str | None, environ: Mapping[str, str]) -> list[Watch]:
    """The watches to run: from `watches_file` (the --watches-file flag), else the file
    HELM_CHART_WATCHES names, else the single-watch environment; [] when none is given."""
    origin = f"--watches-file {watches_file}" if watches_file else None
    path = watches_file
    if not path and environ.get(WATCHES_FILE_ENV):
        path = environ[WATCHES_FILE_ENV]
        origin = f"{WATCHES_FILE_ENV}={path}"
    if not path:
        return from_environment(environ)
    present = _env_set(environ)
    if present:
        verb = "is" if len(present) == 1 else "are"
        raise WatchesError.one("", f"{_join(present)} {verb} set and so is {origin}: use one")
    return load(Path(path), environ)
