"""The controller as the ServiceAccount config/rbac defines, and nothing more.

A control plane of this module's own (so its kube-apiserver can audit, and the shared one is left
alone) gets the CRDs and `overlay/`: config/rbac without the cluster-admin binding, in its own
namespace and name prefix. The controller runs with a kubeconfig holding only the server, the
CA and a token the TokenRequest API issued for that account; every release acts as a service
account of its own namespace (`--default-service-account`, or spec.serviceAccountName). The
audit log records each request of the controller's account, for the last test to read."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from kubernetes_asyncio import client
from moto.server import ThreadedMotoServer

from hack.testkit.chart_server import ChartServer, chart_repository
from hack.testkit.charts import make_chart, write_message_chart
from hack.testkit.cli import helm_package
from hack.testkit.git_server import GitHTTPServer, git
from hack.testkit.kube import api_client, create_helm_repository, install_crds
from hack.testkit.launcher import Controller, running_controller
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane, cluster_env, second_control_plane
from internal.kube import rest
from internal.kube.resources import (
    BUCKETS,
    GIT_REPOSITORIES,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
    Resource,
)
from tests.e2e.conftest import CONTROLLER_FLAGS, Harness
from tests.e2e.test_tenancy import ALL_VERBS
from tests.engine.identities import service_account_with_role

pytestmark = pytest.mark.e2e

OVERLAY = Path(__file__).parent / "overlay"
_KUSTOMIZATION = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
CONTROLLER_NAMESPACE: str = _KUSTOMIZATION["namespace"]
CONTROLLER_ACCOUNT = f"{_KUSTOMIZATION['namePrefix']}helmward"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_ACCOUNT}"

TENANT_NAMESPACE = "tenant"
DEFAULT_ACCOUNT = "tenant"
"""The controller's --default-service-account: what every release without one acts as."""
LIMITED_ACCOUNT = "limited"
"""Named by spec.serviceAccountName of the release whose chart holds a kind it may not make."""
TENANT_RULES = [
    # Helm's release storage, the charts' ConfigMaps, and the test and hook pods.
    client.V1PolicyRule(
        api_groups=[""], resources=["secrets", "configmaps", "pods"], verbs=ALL_VERBS
    )
]

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "users": [CONTROLLER_USER]}, {"level": "None"}],
}

GIT_USER, GIT_PASSWORD = "git", "pat"
S3_KEY, S3_SECRET = "AKIDTEST", "secret"
OCI_USER, OCI_PASSWORD = "flux", "rbac-e2e-pass"


@dataclass(frozen=True)
class AuditedPlane:
    plane: ControlPlane
    audit_log: Path


@dataclass(frozen=True)
class Servers:
    """Where the sources of the tenant's charts are served."""

    charts: ChartServer
    git: GitHTTPServer
    s3_endpoint: str
    oci: OCIRegistry


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rbac")


@pytest.fixture(scope="module")
def audited_plane(work_dir: Path) -> Iterator[AuditedPlane]:
    """A control plane of its own whose kube-apiserver audits the controller's account."""
    policy = work_dir / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    state = work_dir / "plane"
    with second_control_plane(state, env={"HELMWARD_AUDIT_POLICY": str(policy)}) as kubeconfig:
        plane = ControlPlane(kubeconfig=kubeconfig, bin_dir=cluster_env()[1], started_here=True)
        yield AuditedPlane(plane, state / "logs" / "audit.log")


@pytest.fixture(scope="module")
async def admin(audited_plane: AuditedPlane) -> AsyncIterator[client.ApiClient]:
    """The plane's administrator: sets the stage and looks, never reconciles."""
    async with api_client(audited_plane.plane.kubeconfig) as api:
        await install_crds(api)
        yield api


def kubectl(plane: ControlPlane, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    done = subprocess.run(
        [str(plane.kubectl), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


async def request_token(api: client.ApiClient, namespace: str, account: str) -> str:
    """A token for `namespace/account` from the TokenRequest API (an hour is plenty)."""
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    issued = await rest.request(api, "POST", path, body=body)
    return str(issued["status"]["token"])


def token_kubeconfig(admin_kubeconfig: Path, token: str, path: Path) -> Path:
    """A kubeconfig of the admin's server and CA, and `token`: no certificate, no key."""
    cluster = yaml.safe_load(admin_kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = Path(cluster["certificate-authority"]).read_bytes()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "audited",
                "cluster": {
                    "server": cluster["server"],
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": CONTROLLER_ACCOUNT, "user": {"token": token}}],
        "contexts": [
            {"name": "audited", "context": {"cluster": "audited", "user": CONTROLLER_ACCOUNT}}
        ],
        "current-context": "audited",
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
async def controller_kubeconfig(
    audited_plane: AuditedPlane, admin: client.ApiClient, work_dir: Path
) -> Path:
    """The overlay applied; a kubeconfig carrying the controller account's token only."""
    kubectl(audited_plane.plane, "apply", "--server-side", "-k", str(OVERLAY))
    token = await request_token(admin, CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    return token_kubeconfig(audited_plane.plane.kubeconfig, token, work_dir / "controller.yaml")


@pytest.fixture(scope="module")
async def tenant(admin: client.ApiClient) -> str:
    """The tenant's namespace, with its default account and the limited one: both may write
    Secrets, ConfigMaps and Pods there, and nothing else."""
    core = client.CoreV1Api(admin)
    meta = client.V1ObjectMeta(name=TENANT_NAMESPACE)
    await core.create_namespace(client.V1Namespace(metadata=meta))
    for account in (DEFAULT_ACCOUNT, LIMITED_ACCOUNT):
        await service_account_with_role(admin, TENANT_NAMESPACE, account, TENANT_RULES)
    return TENANT_NAMESPACE


HELM_CHART_TEMPLATE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: {{ .Release.Name }}-smuggled
spec:
  chart: demo
  interval: 10m
  sourceRef: {kind: HelmRepository, name: charts}
"""
"""A kind the tenant's accounts may not make, but the controller's own ClusterRole may."""


def _git_repository(root: Path) -> None:
    """A bare repository `root/served/charts.git` whose main branch holds the chart gitdemo
    2.0.0 in charts/gitdemo-2.0.0."""
    work = root / "work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    write_message_chart(work / "charts", "gitdemo", "2.0.0")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "chart")
    bare = root / "served" / "charts.git"
    bare.parent.mkdir()
    git(root, "clone", "-q", "--bare", str(work), str(bare))


def _bucket(endpoint: str, chart: Path) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
    )
    s3.create_bucket(Bucket="charts")
    for path in sorted(chart.rglob("*")):
        if path.is_file():
            key = f"bucketdemo/{path.relative_to(chart)}"
            s3.put_object(Bucket="charts", Key=key, Body=path.read_bytes())


@pytest.fixture(scope="module")
async def servers(audited_plane: AuditedPlane, work_dir: Path) -> AsyncIterator[Servers]:
    """A chart repository (the message chart with a test hook, and one smuggling a HelmChart),
    a git server, an S3 server and an OCI registry, each holding a chart."""
    helm = audited_plane.plane.helm
    src = work_dir / "src"
    charts = [
        write_message_chart(src, "demo", "1.0.0", test_hook=True),
        make_chart(
            src,
            "smuggler",
            version="1.0.0",
            templates={"helmchart.yaml": HELM_CHART_TEMPLATE},
            values={},
        ),
    ]
    _git_repository(work_dir / "git")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    _bucket(f"{host}:{port}", write_message_chart(src, "bucketdemo", "3.0.0"))
    oci = OCIRegistry(work_dir / "registry", OCI_USER, OCI_PASSWORD)
    oci.start()
    package = helm_package(helm, write_message_chart(src, "ocidemo", "4.0.0"), work_dir / "oci")
    oci.push_chart(helm, package, "charts", work_dir / "helm")
    git_server = GitHTTPServer(
        work_dir / "git" / "served", username=GIT_USER, password=GIT_PASSWORD
    )
    await git_server.start()
    try:
        async with chart_repository(helm, charts, work_dir / "repo") as chart_server:
            yield Servers(chart_server, git_server, f"{host}:{port}", oci)
    finally:
        await git_server.stop()
        oci.stop()
        moto.stop()


async def _secret(api: client.ApiClient, namespace: str, name: str, body: dict[str, Any]) -> None:
    meta = client.V1ObjectMeta(name=name)
    secret = client.V1Secret(metadata=meta, string_data=body.get("data"), type=body.get("type"))
    await client.CoreV1Api(api).create_namespaced_secret(namespace, secret)


async def _sources(api: client.ApiClient, namespace: str, servers: Servers) -> None:
    """One source of each kind in the tenant's namespace, with the credentials it needs."""
    await create_helm_repository(api, namespace, servers.charts.url)
    oci_auth = base64.b64encode(f"{OCI_USER}:{OCI_PASSWORD}".encode()).decode()
    config = json.dumps({"auths": {servers.oci.host: {"auth": oci_auth}}})
    await _secret(
        api,
        namespace,
        "regcred",
        {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": config}},
    )
    await _secret(
        api, namespace, "git-auth", {"data": {"username": GIT_USER, "password": GIT_PASSWORD}}
    )
    await _secret(api, namespace, "s3", {"data": {"accesskey": S3_KEY, "secretkey": S3_SECRET}})
    specs: dict[tuple[Resource, str], dict[str, Any]] = {
        (GIT_REPOSITORIES, "git"): {
            "url": servers.git.url("charts.git"),
            "ref": {"branch": "main"},
            "secretRef": {"name": "git-auth"},
        },
        (BUCKETS, "bucket"): {
            "bucketName": "charts",
            "endpoint": servers.s3_endpoint,
            "insecure": True,
            "secretRef": {"name": "s3"},
        },
        (HELM_REPOSITORIES, "oci"): {
            "url": f"oci://{servers.oci.host}/charts",
            "type": "oci",
            "insecure": True,
            "secretRef": {"name": "regcred"},
        },
        (OCI_REPOSITORIES, "ocidemo"): {
            "url": f"oci://{servers.oci.host}/charts/ocidemo",
            "insecure": True,
            "ref": {"semver": "4.x"},
            "secretRef": {"name": "regcred"},
            "layerSelector": {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "operation": "copy",
            },
        },
    }
    for (resource, name), spec in specs.items():
        body = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "10m", **spec},
        }
        await rest.request(api, "POST", resource.path(namespace), body=body)


@pytest.fixture(scope="module")
async def controller(controller_kubeconfig: Path, work_dir: Path) -> AsyncIterator[Controller]:
    """`helmward run` with the account's token, over every namespace, each release acting as
    its namespace's default account; the Lease in the controller's namespace, as the
    Deployment's $RUNTIME_NAMESPACE puts it."""
    flags = (*CONTROLLER_FLAGS, "--default-service-account", DEFAULT_ACCOUNT)
    log = work_dir / "controller.log"
    try:
        async with running_controller(
            controller_kubeconfig,
            work_dir / "data",
            flags=flags,
            log=log,
            env={"RUNTIME_NAMESPACE": CONTROLLER_NAMESPACE},
        ) as running:
            yield running
    finally:
        if log.exists():
            print(log.read_text()[-6000:])


@pytest.fixture(scope="module")
async def harness(
    audited_plane: AuditedPlane,
    admin: client.ApiClient,
    tenant: str,
    servers: Servers,
    controller: Controller,
    work_dir: Path,
) -> Harness:
    """The e2e harness over the tenant's namespace: the admin applies and looks."""
    await _sources(admin, tenant, servers)
    plane = audited_plane.plane
    return Harness(
        admin, tenant, servers.charts.url, plane.helm, plane.kubeconfig, work_dir, controller
    )
