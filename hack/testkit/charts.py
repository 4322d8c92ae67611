"""Charts a test writes for itself into a tmp directory, and their tarballs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import yaml

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      {{- with .Values.nodeSelector }}
      nodeSelector: {{ toJson . }}
      {{- end }}
      containers:
        - name: main
          image: {{ .Values.image }}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels: {tier: config}
data:
  message: {{ .Values.message | quote }}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: 8080}]
"""

DEFAULT_VALUES: dict[str, Any] = {
    "replicas": 1,
    "image": "nginx:1.27",
    "message": "hello",
}


# A container that runs to completion (KWOK ends it Succeeded, or Failed when labelled so).
RUN_ONCE: dict[str, Any] = {
    "restartPolicy": "Never",
    "containers": [{"name": "main", "image": "busybox:1.36"}],
}


def _hook(
    api_version: str,
    kind: str,
    name: str,
    events: str,
    weight: int,
    delete_policy: str | None,
    body: dict[str, Any],
    labels: dict[str, str] | None = None,
) -> str:
    """A hook manifest: metadata with the hook annotations (and `labels`), then `body`."""
    annotations = {"helm.sh/hook": events, "helm.sh/hook-weight": str(weight)}
    if delete_policy:
        annotations["helm.sh/hook-delete-policy"] = delete_policy
    metadata: dict[str, Any] = {"name": name, "annotations": annotations}
    if labels is not None:
        metadata["labels"] = labels
    doc = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
    return yaml.safe_dump(doc, sort_keys=False)


def hook_pod(
    name: str,
    events: str,
    *,
    weight: int = 0,
    delete_policy: str | None = None,
    fail: bool = False,
) -> str:
    """A run-to-completion hook pod; with fail=True KWOK ends it Failed."""
    labels = {"hook": name}
    if fail:
        labels["kwok.helmward.io/fail"] = "true"
    return _hook("v1", "Pod", name, events, weight, delete_policy, {"spec": RUN_ONCE}, labels)


def hook_configmap(name: str, events: str, *, weight: int = 0, delete_policy: str = "") -> str:
    return _hook("v1", "ConfigMap", name, events, weight, delete_policy, {"data": {"hook": name}})


def hook_job(name: str, events: str, *, weight: int = 0, delete_policy: str = "") -> str:
    spec = {"backoffLimit": 0, "template": {"spec": RUN_ONCE}}
    return _hook("batch/v1", "Job", name, events, weight, delete_policy, {"spec": spec})


def crd(
    group: str,
    kind: str,
    plural: str,
    *,
    versions: tuple[str, ...] = ("v1",),
    columns: tuple[str, ...] = (),
    scope: str = "Namespaced",
) -> str:
    """A CustomResourceDefinition; the first version stores, each column prints `.spec.<name>`."""
    served = []
    for i, name in enumerate(versions):
        version: dict[str, Any] = {
            "name": name,
            "served": True,
            "storage": i == 0,
            "schema": {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {"size": {"type": "integer"}},
                        }
                    },
                }
            },
        }
        if columns:
            version["additionalPrinterColumns"] = [
                {"name": c, "type": "string", "jsonPath": f".spec.{c}"} for c in columns
            ]
        served.append(version)
    doc = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": served,
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def make_chart(
    root: Path,
    name: str = "demo",
    *,
    version: str = "0.1.0",
    app_version: str = "1.0.0",
    templates: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    crds: dict[str, str] | None = None,
    schema: dict[str, Any] | None = None,
    kube_version: str | None = None,
    dependencies: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a chart directory and return its path."""
    chart_dir = root / f"{name}-{version}"
    (chart_dir / "templates").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "apiVersion": "v2",
        "name": name,
        "version": version,
        "appVersion": app_version,
    }
    if kube_version:
        meta["kubeVersion"] = kube_version
    if dependencies:
        meta["dependencies"] = dependencies
    (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (chart_dir / "values.yaml").write_text(
        yaml.safe_dump(DEFAULT_VALUES if values is None else values, sort_keys=False)
    )
    if templates is None:
        templates = {"deployment.yaml": DEPLOYMENT, "configmap.yaml": CONFIGMAP}
    for fname, text in templates.items():
        (chart_dir / "templates" / fname).write_text(text)
    if crds:
        (chart_dir / "crds").mkdir(exist_ok=True)
        for fname, text in crds.items():
            (chart_dir / "crds" / fname).write_text(text)
    if schema is not None:
        (chart_dir / "values.schema.json").write_text(json.dumps(schema))
    return chart_dir


def package(chart_dir: Path, out_dir: Path) -> Path:
    """A .tgz of a chart directory, laid out as `helm package` does."""
    out = out_dir / f"{chart_dir.name}.tgz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        prefix = yaml.safe_load((chart_dir / "Chart.yaml").read_text())["name"]
        for path in sorted(chart_dir.rglob("*")):
            tar.add(path, arcname=f"{prefix}/{path.relative_to(chart_dir)}", recursive=False)
    out.write_bytes(buf.getvalue())
    return out


def write_chart(
    root: Path, name: str, version: str, *, values: str = "replicas: 1\n", deps: str = ""
) -> Path:
    """A small but real chart directory, `root/name`: one ConfigMap showing `replicas`."""
    d = root / name
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n{deps}"
    )
    (d / "values.yaml").write_text(values)
    (d / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n"
    )
    return d


def write_message_chart(root: Path, name: str, version: str, *, test_hook: bool = False) -> Path:
    """`root/name-version`: a ConfigMap `<release>-config` showing `.Values.message` and the
    chart version; optionally a test hook pod that fails when `.Values.failTest` is set (through
    the KWOK failure label); and a post-install/upgrade hook pod that never completes when
    `.Values.hang` is set."""
    d = root / f"{name}-{version}"
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n"
    )
    (d / "values.yaml").write_text("message: hello\nfailTest: false\n")
    (d / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  message: {{ .Values.message | quote }}\n"
        "  chartVersion: {{ .Chart.Version | quote }}\n"
    )
    if test_hook:
        (d / "templates" / "test.yaml").write_text(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n"
            "  annotations:\n    helm.sh/hook: test\n"
            "    helm.sh/hook-delete-policy: before-hook-creation\n"
            "  labels:\n"
            '{{- if .Values.failTest }}\n    kwok.helmward.io/fail: "true"\n{{- end }}\n'
            "    app: test\n"
            "spec:\n  restartPolicy: Never\n"
            "  containers:\n  - name: t\n    image: busybox:1.36\n"
        )
    (d / "templates" / "hang.yaml").write_text(
        "{{- if .Values.hang }}\napiVersion: v1\nkind: Pod\nmetadata:\n"
        "  name: {{ .Release.Name }}-hang\n"
        "  annotations:\n    helm.sh/hook: post-install,post-upgrade\n"
        "    helm.sh/hook-delete-policy: before-hook-creation\n"
        "spec:\n  restartPolicy: Always\n"
        "  containers:\n  - name: h\n    image: busybox:1.36\n{{- end }}\n"
    )
    return d


WORKLOAD_TEMPLATES = {
    "serviceaccount.yaml": (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n"
    ),
    "configmap.yaml": CONFIGMAP,
    "service.yaml": SERVICE,
    "deployment.yaml": DEPLOYMENT.replace(
        "    spec:\n", "    spec:\n      serviceAccountName: {{ .Release.Name }}\n", 1
    ),
}


def write_workload_chart(root: Path, name: str, version: str) -> Path:
    """`root/name-version`: what a small application ships, a Deployment of one replica (KWOK
    makes its pod Ready) running as the release's own ServiceAccount, a Service in front of it
    and a ConfigMap showing `.Values.message`."""
    return make_chart(root, name, version=version, templates=WORKLOAD_TEMPLATES)
