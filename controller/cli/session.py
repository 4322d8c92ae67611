"""The cluster a command talks to: the kubeconfig and context the flags name (else
$KUBECONFIG, else ~/.kube/config, and its current context), and the namespace (`-n`, else the
context's, else `default`)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from internal.kube.client import ApiClient, configuration_of


@dataclass(frozen=True)
class Session:
    api: ApiClient
    namespace: str
    all_namespaces: bool

    @property
    def scope(self) -> str | None:
        """The namespace to list in, or None for every namespace."""
        return None if self.all_namespaces else self.namespace


def kubeconfig_path(flag: str | None) -> str:
    if flag:
        return flag
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return first or str(Path.home() / ".kube" / "config")


def context_namespace(kubeconfig: str, context: str | None) -> str | None:
    """The namespace the kubeconfig's context (its current one when None) names, if any."""
    try:
        doc: dict[str, Any] = yaml.safe_load(Path(kubeconfig).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    name = context or doc.get("current-context")
    for entry in doc.get("contexts") or []:
        if entry.get("name") == name:
            return (entry.get("context") or {}).get("namespace") or None
    return None


@contextlib.asynccontextmanager
async def open_session(args: argparse.Namespace) -> AsyncIterator[Session]:
    path = kubeconfig_path(args.kubeconfig)
    conf = await configuration_of(path, args.context)
    namespace = args.namespace or context_namespace(path, args.context) or "default"
    api = ApiClient(conf)
    try:
        yield Session(api, namespace, bool(getattr(args, "all_namespaces", False)))
    finally:
        await api.close()
