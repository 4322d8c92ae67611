"""`helmward run` takes Flux's flags with Flux's meaning: the argument lists of Flux's own
manifests, Go booleans and durations, feature gates; an unknown flag is a usage error."""

from __future__ import annotations

import argparse

import pytest

from controller import cli, flags

# fluxcd/helm-controller config/manager/deployment.yaml, main at 0f61a8607a62 (identical at
# tag v1.6.3, 117377b608ce, the release flux2 v2.9 installs): spec.template.spec.containers[0].args
HELM_CONTROLLER_ARGS = [
    "--watch-all-namespaces",
    "--log-level=info",
    "--log-encoding=json",
    "--enable-leader-election",
]

# fluxcd/source-controller config/manager/deployment.yaml, main at 39b711b111fa (v1.9.1 + 13):
# spec.template.spec.containers[0].args. The kubelet expands $(RUNTIME_NAMESPACE); verbatim here.
SOURCE_CONTROLLER_ARGS = [
    "--watch-all-namespaces",
    "--log-level=info",
    "--log-encoding=json",
    "--enable-leader-election",
    "--storage-path=/data",
    "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.",
]

# fluxcd/flux2 at da2d22d3690 (v2.9.0-36): manifests/bases/helm-controller/patch.yaml and
# manifests/bases/source-controller/patch.yaml both add this at args/0.
FLUX2_EVENTS_ARG = "--events-addr=http://notification-controller.flux-system.svc.cluster.local./"

# fluxcd/flux2 at da2d22d3690: manifests/test/kustomization.yaml appends this to the args of
# kustomize-controller and helm-controller.
FLUX2_TEST_ARG = "--feature-gates=ExternalArtifact=true"

FLUX2_HELM_CONTROLLER_ARGS = [FLUX2_EVENTS_ARG, *HELM_CONTROLLER_ARGS]
FLUX2_SOURCE_CONTROLLER_ARGS = [FLUX2_EVENTS_ARG, *SOURCE_CONTROLLER_ARGS]
FLUX2_TEST_HELM_CONTROLLER_ARGS = [*FLUX2_HELM_CONTROLLER_ARGS, FLUX2_TEST_ARG]

EVENTS = "http://notification-controller.flux-system.svc.cluster.local./"
ADV = "source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local."


def parse(*argv: str) -> argparse.Namespace:
    return cli.parse(["run", *argv])


COMMON = {
    "watch_all_namespaces": True,
    "log_level": "info",
    "log_encoding": "json",
    "leader_elect": True,
}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(HELM_CONTROLLER_ARGS, {**COMMON, "events_addr": ""}, id="helm-controller"),
        pytest.param(
            SOURCE_CONTROLLER_ARGS,
            {**COMMON, "storage_path": "/data", "storage_adv_addr": ADV},
            id="source-controller",
        ),
        pytest.param(
            FLUX2_HELM_CONTROLLER_ARGS,
            {**COMMON, "events_addr": EVENTS, "feature_gates": {}},
            id="flux2-helm-controller",
        ),
        pytest.param(
            FLUX2_SOURCE_CONTROLLER_ARGS,
            {**COMMON, "events_addr": EVENTS, "storage_path": "/data", "storage_adv_addr": ADV},
            id="flux2-source-controller",
        ),
        pytest.param(
            FLUX2_TEST_HELM_CONTROLLER_ARGS,
            {**COMMON, "events_addr": EVENTS, "feature_gates": {"ExternalArtifact": True}},
            id="flux2-test-overlay",
        ),
    ],
)
def test_flux_manifest_args_are_accepted_with_flux_meaning(
    argv: list[str], expected: dict[str, object]
) -> None:
    args = parse(*argv)
    assert {key: getattr(args, key) for key in expected} == expected
    assert flags.watch_namespace_of(args, {"RUNTIME_NAMESPACE": "flux-system"}) is None


def test_the_advertised_storage_address_is_used_as_given() -> None:
    args = parse(*FLUX2_SOURCE_CONTROLLER_ARGS)
    assert flags.advertised(args.storage_addr, args.storage_adv_addr) == ADV
    assert args.storage_addr == ":9090"


def test_the_events_address_is_acted_on() -> None:
    # tests/controller/test_notify.py and test_logging.py show the events posted there.
    args = parse(*FLUX2_HELM_CONTROLLER_ARGS)
    assert args.events_addr == EVENTS
    assert flags.without_effect(args, _defaults()) == []


def _defaults() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    flags.add_flags(parser)
    return parser


# Every flag of helm-controller's and source-controller's main.go (and the fluxcd/pkg option
# sets they bind), at the commits above, with a value of its type.
FLUX_FLAGS = [
    "--metrics-addr=:8080",
    "--events-addr=http://events.flux-system.svc./",
    "--health-addr=:9440",
    "--concurrent=4",
    "--requeue-dependency=30s",
    "--graceful-shutdown-timeout=600s",
    "--http-retry=9",
    "--http-timeout=30s",
    "--default-service-account=flux",
    "--default-kubeconfig-service-account=kube",
    "--oom-watch-memory-threshold=95",
    "--oom-watch-interval=500ms",
    "--oom-watch-max-memory-path=/sys/fs/cgroup/memory.max",
    "--oom-watch-current-memory-path=/sys/fs/cgroup/memory.current",
    "--snapshot-digest-algo=sha256",
    "--override-manager=kubectl",
    "--kube-api-qps=50",
    "--kube-api-burst=300",
    "--log-encoding=json",
    "--log-level=debug",
    "--no-cross-namespace-refs=true",
    "--enable-leader-election",
    "--leader-election-release-on-cancel=true",
    "--leader-election-lease-duration=35s",
    "--leader-election-renew-deadline=30s",
    "--leader-election-retry-period=5s",
    "--min-retry-delay=750ms",
    "--max-retry-delay=15m",
    "--insecure-kubeconfig-exec=false",
    "--insecure-kubeconfig-tls=false",
    "--feature-gates=OOMWatch=false",
    "--watch-all-namespaces=true",
    "--watch-label-selector=sharding.fluxcd.io/key=shard1",
    "--watch-configs-label-selector=reconcile.fluxcd.io/watch=Enabled",
    "--interval-jitter-percentage=5",
    "--token-cache-max-size=100",
    "--token-cache-max-duration=1h",
    "--helm-index-max-size=52428800",
    "--helm-chart-max-size=10485760",
    "--helm-chart-file-max-size=5242880",
    "--helm-cache-max-size=10",
    "--helm-cache-ttl=15m",
    "--helm-cache-purge-interval=1m",
    "--ssh-kex-algos=curve25519-sha256,ecdh-sha2-nistp256",
    "--ssh-hostkey-algos=ssh-ed25519",
    "--storage-path=/data",
    "--storage-addr=:9090",
    "--storage-adv-addr=source-controller.flux-system.svc.cluster.local.",
    "--artifact-retention-ttl=60s",
    "--artifact-retention-records=2",
    "--artifact-digest-algo=sha256",
]


def test_every_flux_flag_is_accepted_together() -> None:
    args = parse(*FLUX_FLAGS)
    assert args.concurrent == 4
    assert args.requeue_dependency == 30.0
    assert args.graceful_shutdown_timeout == 600.0
    assert args.default_service_account == "flux"
    assert args.no_cross_namespace_refs is True
    assert args.watch_label_selector == "sharding.fluxcd.io/key=shard1"
    assert (args.kube_api_qps, args.kube_api_burst) == (50.0, 300)
    assert args.leader_election_lease_duration == 35.0
    assert args.leader_election_renew_deadline == 30.0
    assert args.leader_election_retry_period == 5.0
    assert (args.min_retry_delay, args.max_retry_delay) == (0.75, 900.0)
    assert args.helm_index_max_size == 52428800
    assert (args.helm_chart_max_size, args.helm_chart_file_max_size) == (10485760, 5242880)
    assert args.helm_cache_max_size == 10
    assert args.artifact_retention_ttl == 60.0
    assert args.artifact_retention_records == 2
    assert args.ssh_kex_algos == ["curve25519-sha256", "ecdh-sha2-nistp256"]
    assert args.override_manager == ["kubectl"]
    assert args.log_level == "debug"


def test_flags_without_effect_are_named_when_set() -> None:
    notes = flags.without_effect(parse(*FLUX_FLAGS), _defaults())
    assert "--default-kubeconfig-service-account=kube: accepted for Flux, no effect" in notes
    assert "--override-manager=['kubectl']: accepted for Flux, no effect" in notes
    assert not any(n.startswith("feature gate OOMWatch") for n in notes), "the gate acts"
    # The gate is off: the paths set are named; the threshold and interval are the defaults.
    assert [n for n in notes if "oom-watch" in n] == [
        "--oom-watch-max-memory-path=/sys/fs/cgroup/memory.max: no effect without "
        "--feature-gates=OOMWatch=true",
        "--oom-watch-current-memory-path=/sys/fs/cgroup/memory.current: no effect without "
        "--feature-gates=OOMWatch=true",
    ]
    gated = flags.without_effect(
        parse(*FLUX_FLAGS, "--feature-gates=DetectDrift=true"), _defaults()
    )
    assert any(n.startswith("feature gate DetectDrift=true: no effect") for n in gated)
    assert flags.without_effect(parse(), _defaults()) == []


def test_oom_watch_flags_are_named_when_the_gate_is_off() -> None:
    set_ = ("--oom-watch-memory-threshold=50", "--oom-watch-current-memory-path=/m/cur")
    assert flags.without_effect(parse(*set_), _defaults()) == [
        "--oom-watch-memory-threshold=50: no effect without --feature-gates=OOMWatch=true",
        "--oom-watch-current-memory-path=/m/cur: no effect without --feature-gates=OOMWatch=true",
    ]
    assert flags.without_effect(parse(*set_, "--feature-gates=OOMWatch=true"), _defaults()) == []
    off = parse(*set_, "--feature-gates=OOMWatch=false")
    assert len(flags.without_effect(off, _defaults())) == 2


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("95", 95), ("255", 255)])
def test_the_oom_threshold_is_a_uint8(text: str, value: int) -> None:
    assert parse(f"--oom-watch-memory-threshold={text}").oom_watch_memory_threshold == value


@pytest.mark.parametrize("text", ["256", "-1", "ninety", "9.5"])
def test_the_oom_threshold_refuses_what_is_not_a_uint8(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(f"--oom-watch-memory-threshold={text}")
    assert "--oom-watch-memory-threshold" in capsys.readouterr().err


BOOLEAN_FLAGS = [
    ("--watch-all-namespaces", "watch_all_namespaces"),
    ("--enable-leader-election", "leader_elect"),
    ("--leader-elect", "leader_elect"),
    ("--no-cross-namespace-refs", "no_cross_namespace_refs"),
    ("--insecure-kubeconfig-exec", "insecure_kubeconfig_exec"),
    ("--insecure-kubeconfig-tls", "insecure_kubeconfig_tls"),
    ("--leader-election-release-on-cancel", "leader_election_release_on_cancel"),
]


@pytest.mark.parametrize(("flag", "dest"), BOOLEAN_FLAGS)
@pytest.mark.parametrize(
    ("suffix", "value"),
    [("", True), ("=true", True), ("=false", False), ("=1", True), ("=0", False), ("=F", False)],
)
def test_boolean_flags_are_bare_or_take_go_booleans(
    flag: str, dest: str, suffix: str, value: bool
) -> None:
    assert getattr(parse(flag + suffix), dest) is value


def test_defaults_of_the_booleans() -> None:
    args = parse()
    assert args.watch_all_namespaces is True
    assert args.leader_elect is True  # Helmward's default; Flux's is off
    assert args.no_cross_namespace_refs is False
    assert (args.insecure_kubeconfig_exec, args.insecure_kubeconfig_tls) == (False, False)


def test_watch_all_namespaces_false_watches_the_runtime_namespace() -> None:
    env = {"RUNTIME_NAMESPACE": "flux-system"}
    assert flags.watch_namespace_of(parse("--watch-all-namespaces=false"), env) == "flux-system"
    assert flags.watch_namespace_of(parse("--watch-all-namespaces=false"), {}) is None
    assert flags.watch_namespace_of(parse("--watch-namespace", "apps"), env) == "apps"
    assert flags.watch_namespace_of(parse(), env) is None


DURATION_FLAGS = [
    "--requeue-dependency",
    "--graceful-shutdown-timeout",
    "--http-timeout",
    "--oom-watch-interval",
    "--leader-election-lease-duration",
    "--leader-election-renew-deadline",
    "--leader-election-retry-period",
    "--min-retry-delay",
    "--max-retry-delay",
    "--token-cache-max-duration",
    "--helm-cache-ttl",
    "--helm-cache-purge-interval",
    "--artifact-retention-ttl",
]


@pytest.mark.parametrize("flag", DURATION_FLAGS)
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("600s", 600.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        ("1h2m3s", 3723.0),
        ("30", 30.0),
        ("2.5", 2.5),
    ],
)
def test_duration_flags_take_go_durations_and_seconds(flag: str, text: str, seconds: float) -> None:
    dest = flag.removeprefix("--").replace("-", "_")
    assert getattr(parse(f"{flag}={text}"), dest) == pytest.approx(seconds)
    assert getattr(parse(flag, text), dest) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "m", "1h-", "soon"])
def test_a_bad_duration_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(f"--requeue-dependency={text}")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--requeue-dependency" in err
    assert f"invalid duration {text!r}" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--no-such-flag"], "--no-such-flag"),
        (["--no-such-flag=1"], "--no-such-flag"),
        (["--concurrent=2", "--watch-everything"], "--watch-everything"),
        (["--concurr=2"], "--concurr"),  # no abbreviations: Flux's flags are whole words
        (["--enable-leader-elect"], "--enable-leader-elect"),
    ],
)
def test_an_unknown_flag_is_a_usage_error_naming_it(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert f"unknown flag: {named}" in capsys.readouterr().err


def test_an_unknown_flag_exits_2_from_main(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--bogus"])
    assert exited.value.code == 2
    assert "helmward run: error: unknown flag: --bogus" in capsys.readouterr().err


def test_feature_gates_in_flux_format() -> None:
    args = parse("--feature-gates=OOMWatch=true,DetectDrift=false")
    assert args.feature_gates == {"OOMWatch": True, "DetectDrift": False}
    merged = parse("--feature-gates=OOMWatch=true", "--feature-gates", "UseHelm3Defaults=true")
    assert merged.feature_gates == {"OOMWatch": True, "UseHelm3Defaults": True}
    assert parse().feature_gates == {}


def test_every_gate_flux_knows_is_accepted() -> None:
    helm_controller = [
        "CacheSecretsAndConfigMaps",
        "DetectDrift",
        "CorrectDrift",
        "AllowDNSLookups",
        "OOMWatch",
        "AdoptLegacyReleases",
        "DisableChartDigestTracking",
        "AdditiveCELDependencyCheck",
        "ExternalArtifact",
        "DisableConfigWatchers",
        "DirectSourceFetch",
        "UseHelm3Defaults",
        "CancelHealthCheckOnNewRevision",
        "DefaultToRetryOnFailure",
        "ObjectLevelWorkloadIdentity",
    ]
    source_controller = ["CacheSecretsAndConfigMaps", "ObjectLevelWorkloadIdentity"]
    gates = sorted({*helm_controller, *source_controller})
    assert sorted(flags.FEATURE_GATES) == gates
    args = parse("--feature-gates=" + ",".join(f"{g}=true" for g in gates))
    assert args.feature_gates == dict.fromkeys(gates, True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NoSuchGate=true", "feature-gate 'NoSuchGate' not supported"),
        ("OOMWatch=maybe", "invalid value of OOMWatch"),
        ("OOMWatch", "missing bool value for OOMWatch"),
    ],
)
def test_a_bad_feature_gate_is_a_usage_error(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(f"--feature-gates={value}")
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("level", ["trace", "debug", "info", "error"])
def test_flux_log_levels(level: str) -> None:
    assert parse(f"--log-level={level}").log_level == level


@pytest.mark.parametrize("flag", ["--artifact-digest-algo", "--snapshot-digest-algo"])
def test_digest_algorithms_other_than_sha256_are_refused(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert getattr(parse(f"{flag}=SHA256"), flag[2:].replace("-", "_")) == "sha256"
    with pytest.raises(SystemExit):
        parse(f"{flag}=blake3")
    assert "Helmward digests with sha256" in capsys.readouterr().err
