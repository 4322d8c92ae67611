"""The flags of `helmward run`: Flux's helm-controller and source-controller flags with Flux's
meaning (Go booleans and durations, feature gates, the leader-election scope), and Helmward's
own. Parsing only: `controller.app` turns them into the running controllers."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from collections.abc import Mapping
from typing import Any

from api.digests import digest
from api.duration import SECOND, DurationError, format_duration, parse_duration_ns
from controller.runtime.ratelimit import MAX_RETRY_DELAY, MIN_RETRY_DELAY
from internal.sources.chart import Limits
from internal.sources.helmindex import DEFAULT_MAX_INDEX_SIZE

GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def go_bool(text: str) -> bool:
    """A boolean flag's value as Go's strconv.ParseBool reads it (`--flag=false`)."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def go_duration(text: str) -> float:
    """Seconds in a Go duration (`5s`, `1m30s`, `1h`), or in a plain number of seconds."""
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        return parse_duration_ns(text) / SECOND
    except DurationError:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a Go duration such as 30s, 1m30s or 1h"
        ) from None


def _uint8(text: str) -> int:
    """Flux's Uint8 flags: a whole number from 0 to 255."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: a number from 0 to 255"
        ) from None
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{value} is out of range: a number from 0 to 255")
    return value


def _sha256_only(text: str) -> str:
    if text.lower() != "sha256":
        raise argparse.ArgumentTypeError(f"{text!r} is not supported: Helmward digests with sha256")
    return text.lower()


FEATURE_GATES: dict[str, str] = {
    # helm-controller's (internal/features/features.go) and source-controller's, with
    # fluxcd/pkg/auth's ObjectLevelWorkloadIdentity: every one is off by default in Flux.
    "AdditiveCELDependencyCheck": "no effect: dependsOn readyExpr is checked as Flux's default",
    "AdoptLegacyReleases": "no effect (Flux ignores it too since helm-controller v1.5.0)",
    "AllowDNSLookups": "no effect: templates render with Helm's default, no DNS lookups",
    "CacheSecretsAndConfigMaps": "no effect: values objects are read from the API server and "
    "watched metadata-only",
    "CancelHealthCheckOnNewRevision": "no effect: a running health check is not cancelled",
    "CorrectDrift": "no effect (deprecated in Flux, unused there): use spec.driftDetection",
    "DefaultToRetryOnFailure": "no effect: the default strategy stays RemediateOnFailure",
    "DetectDrift": "no effect (deprecated in Flux, unused there): use spec.driftDetection",
    "DirectSourceFetch": "no effect: sources are read from the informers' cache",
    "DisableChartDigestTracking": "no effect: OCI chart digests are tracked, Flux's default",
    "DisableConfigWatchers": "no effect: referenced ConfigMaps and Secrets are watched",
    "ExternalArtifact": "no effect: a chartRef to an ExternalArtifact is not supported yet",
    "OOMWatch": "watch the cgroup's memory (the --oom-watch-* flags) and shut down gracefully "
    "near the limit",
    "ObjectLevelWorkloadIdentity": "no effect: workload identity is not supported",
    "UseHelm3Defaults": "no effect: Helm 4's defaults apply",
}
"""Every gate Flux's helm-controller or source-controller knows, and what it does here."""

ACTING_GATES = frozenset({"OOMWatch"})
"""The gates that act as in Flux; the others are accepted and named at startup."""


def feature_gates(text: str) -> dict[str, bool]:
    """`A=true,B=false`, as Flux's --feature-gates; a gate Flux does not know is an error."""
    gates: dict[str, bool] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise argparse.ArgumentTypeError(f"missing bool value for {name}")
        if name not in FEATURE_GATES:
            raise argparse.ArgumentTypeError(f"feature-gate '{name}' not supported")
        try:
            gates[name] = go_bool(value.strip())
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"invalid value of {name}: {value.strip()}, err: parse bool"
            ) from None
    return gates


class _Merge(argparse.Action):
    """A repeated --feature-gates adds to the earlier ones, as Flux's map flag does."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        merged = dict(getattr(namespace, self.dest) or {})
        merged.update(values)
        setattr(namespace, self.dest, merged)


class _Extend(argparse.Action):
    """pflag's string slice: comma-separated, and repeated flags add up."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        items = list(getattr(namespace, self.dest) or [])
        items.extend(v for v in str(values).split(",") if v)
        setattr(namespace, self.dest, items)


def _bool(
    parser: argparse.ArgumentParser, *names: str, default: bool, help: str, dest: str = ""
) -> None:
    """A Go boolean flag: bare is true, `=true` and `=false` say which."""
    parser.add_argument(
        *names,
        dest=dest or names[0].lstrip("-").replace("-", "_"),
        nargs="?",
        const=True,
        default=default,
        type=go_bool,
        metavar="true|false",
        help=help,
    )


def _duration(parser: argparse.ArgumentParser, name: str, default: float | None, help: str) -> None:
    shown = "unset" if default is None else format_duration(int(default * SECOND))
    parser.add_argument(
        name,
        type=go_duration,
        default=default,
        metavar="DURATION",
        help=f"{help} (a Go duration such as 30s or 1m30s, or seconds; default {shown})",
    )


NO_EFFECT = "accepted for Flux, no effect in Helmward"
FIELD_MANAGER = "helm-controller"
"""Flux's helm-controller's field manager (also the engine's default, internal/helm/shim)."""


def _source_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-path",
        default=os.environ.get("STORAGE_PATH") or "/data",
        help="directory of the artifacts",
    )
    parser.add_argument(
        "--storage-addr",
        default=os.environ.get("STORAGE_ADDRESS") or ":9090",
        help="address of the artifact server",
    )
    parser.add_argument(
        "--storage-adv-addr",
        default=os.environ.get("STORAGE_ADV_ADDR") or "",
        help="host[:port] advertised in artifact URLs (default: hostname and port)",
    )
    parser.add_argument(
        "--metrics-addr", default=os.environ.get("METRICS_ADDR") or ":8080", help="/metrics"
    )
    parser.add_argument("--health-addr", default=":9440", help="address of /healthz and /readyz")
    parser.add_argument(
        "--events-addr",
        default=os.environ.get("EVENTS_ADDR") or "",
        help="notification-controller's address: every event is also posted there, as Flux",
    )
    parser.add_argument("--watch-namespace", default="", help="only this namespace (default: all)")
    parser.add_argument(
        "--watches-file",
        default=None,
        help="operator-sdk's watches file: each kind it names becomes Helm releases "
        "(also $HELM_CHART_WATCHES, or one watch from $API_VERSION, $KIND and $HELM_CHART)",
    )
    parser.add_argument("--concurrent", type=int, default=2, help="reconciles in parallel")
    parser.add_argument("--helm-index-max-size", type=int, default=DEFAULT_MAX_INDEX_SIZE)
    parser.add_argument("--helm-chart-max-size", type=int, default=Limits().chart)
    parser.add_argument("--helm-chart-file-max-size", type=int, default=Limits().file)
    parser.add_argument(
        "--helm-cache-max-size", type=int, default=16, help="parsed indexes kept in memory"
    )
    _duration(
        parser, "--helm-cache-ttl", 15 * 60.0, f"{NO_EFFECT}: cached indexes are keyed by digest"
    )
    _duration(parser, "--helm-cache-purge-interval", 60.0, NO_EFFECT)
    parser.add_argument("--artifact-retention-records", type=int, default=2)
    _duration(parser, "--artifact-retention-ttl", 60.0, "how long a superseded artifact stays")
    parser.add_argument(
        "--artifact-digest-algo", type=_sha256_only, default="sha256", help="sha256 only"
    )
    for name in ("--ssh-kex-algos", "--ssh-hostkey-algos"):
        parser.add_argument(name, action=_Extend, default=[], help=NO_EFFECT)
    parser.add_argument("--token-cache-max-size", type=int, default=100, help=NO_EFFECT)
    _duration(parser, "--token-cache-max-duration", 3600.0, NO_EFFECT)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "0.0.0.0", int(port)


def advertised(storage_addr: str, adv: str) -> str:
    if adv:
        return adv
    host, port = split_addr(storage_addr)
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"{host}:{port}"


def add_flags(parser: argparse.ArgumentParser) -> None:
    _source_flags(parser)
    parser.add_argument(
        "--log-level",
        default="info",
        help="trace, debug, info or error, as Flux (another value means info)",
    )
    parser.add_argument(
        "--log-encoding",
        default="console",
        help="json (one object per line, controller-runtime's keys) or console",
    )
    parser.add_argument(
        "--feature-gates",
        type=feature_gates,
        action=_Merge,
        default={},
        metavar="A=true,B=false",
        help="Flux's feature gates (docs/decisions.md says what each does here)",
    )
    _bool(
        parser,
        "--leader-elect",
        "--enable-leader-election",
        dest="leader_elect",
        default=True,
        help="elect a leader (a Lease per watch scope), so a second controller for the same "
        "objects waits as a standby; =false turns it off",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("RUNTIME_NAMESPACE", ""),
        help="where the Lease lives (default: $RUNTIME_NAMESPACE, else the watched namespace, "
        "else default)",
    )
    _bool(
        parser,
        "--leader-election-release-on-cancel",
        default=True,
        help="give the Lease up on shutdown (Helmward always does)",
    )
    _duration(parser, "--leader-election-lease-duration", None, "the Lease's duration (15s)")
    _duration(parser, "--leader-election-renew-deadline", None, "the leader's renew deadline (10s)")
    _duration(parser, "--leader-election-retry-period", None, "candidates' retry period (2s)")
    _bool(
        parser,
        "--watch-all-namespaces",
        default=True,
        help="watch every namespace; =false watches --watch-namespace, else $RUNTIME_NAMESPACE",
    )
    parser.add_argument(
        "--watch-label-selector",
        default="",
        help="reconcile only the HelmReleases, sources and watched kinds this label selector "
        "selects, as a Flux shard (docs/scaling.md); the HelmCharts, OCIRepositories, ConfigMaps "
        "and Secrets releases read are seen whatever their labels",
    )
    parser.add_argument(
        "--watch-configs-label-selector",
        default="reconcile.fluxcd.io/watch=Enabled",
        help=f"{NO_EFFECT}: every ConfigMap and Secret a release references is watched",
    )
    _duration(parser, "--requeue-dependency", 30.0, "retry interval of unready dependencies")
    _duration(parser, "--graceful-shutdown-timeout", 600.0, "time given to reconciles on stop")
    _duration(parser, "--min-retry-delay", MIN_RETRY_DELAY, "first delay after a failure")
    _duration(parser, "--max-retry-delay", MAX_RETRY_DELAY, "cap of the failure backoff")
    parser.add_argument("--interval-jitter-percentage", type=float, default=5.0)
    parser.add_argument(
        "--default-service-account",
        default="",
        help="impersonate this service account of the release's namespace when "
        "spec.serviceAccountName is empty",
    )
    parser.add_argument("--default-kubeconfig-service-account", default="", help=NO_EFFECT)
    parser.add_argument(
        "--field-manager",
        default=FIELD_MANAGER,
        help="the field manager Helm's applies and drift corrections write as; Flux's "
        "helm-controller by default, so either can take over the other's releases",
    )
    _bool(
        parser,
        "--insecure-kubeconfig-exec",
        default=False,
        help="let kubeConfig Secrets use the user.exec section (the controller runs it)",
    )
    _bool(
        parser,
        "--insecure-kubeconfig-tls",
        default=False,
        help="let kubeConfig Secrets disable TLS verification (insecure-skip-tls-verify)",
    )
    parser.add_argument(
        "--kube-api-qps",
        type=float,
        default=50.0,
        help="queries per second per release action (as Flux); the engine's shared budget "
        "per cluster is this times --concurrent",
    )
    parser.add_argument(
        "--engine-gogc",
        type=int,
        default=25,
        help="the Helm engine's Go GC target percentage (GOGC in the environment wins)",
    )
    parser.add_argument(
        "--kube-api-burst", type=int, default=300, help="burst above --kube-api-qps (as Flux)"
    )
    _bool(
        parser,
        "--no-cross-namespace-refs",
        default=False,
        help="refuse references to objects in other namespaces",
    )
    _bool(
        parser,
        "--values-refs",
        default=False,
        help="resolve ref+<backend>:// references in every release's values (else only in "
        "releases annotated helmward.io/values-refs: enabled)",
    )
    _bool(
        parser,
        "--values-ambient-credentials",
        default=False,
        help="let references use the controller's own cloud credentials (environment, web "
        "identity, instance role) when a release names no credentials Secret",
    )
    _duration(parser, "--values-refs-ttl", 60.0, "how long a resolved reference is reused")
    _bool(
        parser,
        "--values-azure-any-resource",
        default=False,
        help="let a Key Vault's challenge name a resource outside the vault's own domain (a "
        "vault not on Azure's domains); off, a token goes only to Azure's own vaults",
    )
    parser.add_argument("--http-retry", type=int, default=9, help=NO_EFFECT)
    _duration(parser, "--http-timeout", 30.0, NO_EFFECT)
    _oom_watch_flags(parser)
    parser.add_argument(
        "--snapshot-digest-algo", type=_sha256_only, default="sha256", help="sha256 only"
    )
    parser.add_argument("--override-manager", action="append", default=[], help=NO_EFFECT)
    parser.add_argument(
        "--artifact-cache",
        default="",
        help="where downloaded chart artifacts are kept (default: storage path)",
    )


def _oom_watch_flags(parser: argparse.ArgumentParser) -> None:
    gated = "(with --feature-gates=OOMWatch=true)"
    parser.add_argument(
        "--oom-watch-memory-threshold",
        type=_uint8,
        default=95,
        metavar="PERCENT",
        help=f"memory usage, in percent of the cgroup's limit (1-100), at which the controller "
        f"stops taking work, lets running Helm actions end within --graceful-shutdown-timeout "
        f"and exits {gated}",
    )
    _duration(parser, "--oom-watch-interval", 0.5, f"how often memory usage is read {gated}")
    parser.add_argument(
        "--oom-watch-max-memory-path",
        default="",
        help=f"the memory limit file (default: /sys/fs/cgroup/memory.max, else cgroup v1's "
        f"memory/memory.limit_in_bytes) {gated}",
    )
    parser.add_argument(
        "--oom-watch-current-memory-path",
        default="",
        help=f"the memory usage file (default: /sys/fs/cgroup/memory.current, else cgroup v1's "
        f"memory/memory.usage_in_bytes) {gated}",
    )


LEASE_ID = "helmward-leader-election"


def lease_of(namespace: str, watch_namespace: str | None, selector: str) -> tuple[str, str]:
    """The leader-election Lease's namespace and name. Controllers of the same scope (watched
    namespace and shard selector) share one Lease, so two of them never reconcile the same
    objects at once; controllers of different scopes do not wait for each other."""
    scope = f"{watch_namespace or ''}\0{selector}"
    name = LEASE_ID if scope == "\0" else f"{LEASE_ID}-{digest(scope)[7:17]}"
    return namespace or watch_namespace or "default", name


def watch_namespace_of(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The one namespace watched, or None for all. As Flux, --watch-all-namespaces=false
    watches $RUNTIME_NAMESPACE; Helmward's --watch-namespace names one explicitly."""
    if args.watch_namespace:
        return str(args.watch_namespace)
    if args.watch_all_namespaces:
        return None
    return environ.get("RUNTIME_NAMESPACE") or None


NO_EFFECT_FLAGS = (
    "helm_cache_ttl",
    "helm_cache_purge_interval",
    "ssh_kex_algos",
    "ssh_hostkey_algos",
    "token_cache_max_size",
    "token_cache_max_duration",
    "watch_configs_label_selector",
    "default_kubeconfig_service_account",
    "http_retry",
    "http_timeout",
    "override_manager",
)


OOM_WATCH_FLAGS = (
    "oom_watch_memory_threshold",
    "oom_watch_interval",
    "oom_watch_max_memory_path",
    "oom_watch_current_memory_path",
)


def without_effect(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """What was set that Helmward accepts for Flux but does not act on (one line each)."""
    notes = []
    for dest in NO_EFFECT_FLAGS:
        value = getattr(args, dest)
        if value != parser.get_default(dest):
            notes.append(f"--{dest.replace('_', '-')}={value}: accepted for Flux, no effect")
    for gate, enabled in sorted(args.feature_gates.items()):
        if gate in ACTING_GATES:
            continue
        notes.append(f"feature gate {gate}={str(enabled).lower()}: {FEATURE_GATES[gate]}")
    if not args.feature_gates.get("OOMWatch"):
        for dest in OOM_WATCH_FLAGS:
            value = getattr(args, dest)
            if value != parser.get_default(dest):
                flag = dest.replace("_", "-")
                notes.append(f"--{flag}={value}: no effect without --feature-gates=OOMWatch=true")
    if not args.leader_election_release_on_cancel:
        notes.append("--leader-election-release-on-cancel=false: the Lease is released anyway")
    return notes
