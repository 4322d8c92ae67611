"""The deferred kubernetes-asyncio packages: `helmward run` imports none of the generated
classes, and code that asks for one still gets it."""

from __future__ import annotations

import subprocess
import sys

from hack.testkit.paths import REPO_ROOT

PROBE = """
import sys
from internal.kube.lazyclient import defer_generated_client
assert defer_generated_client()
import controller.app
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio import config
generated = sorted(m for m in sys.modules if m.startswith(("kubernetes_asyncio.client.models.",
    "kubernetes_asyncio.client.api.")))
print(len(generated), ApiClient.__module__, Configuration.__module__, config.__name__)
from kubernetes_asyncio import client
print(client.CoreV1Api.__module__, client.V1ConfigMap.__module__)
from kubernetes_asyncio.client.models import V1Pod
print(V1Pod.__name__, defer_generated_client())
"""


def test_run_imports_no_generated_class_and_a_user_of_one_still_finds_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "0 kubernetes_asyncio.client.api_client kubernetes_asyncio.client.configuration "
        "kubernetes_asyncio.config",
        "kubernetes_asyncio.client.api.core_v1_api kubernetes_asyncio.client.models.v1_config_map",
        "V1Pod False",
    ]


URLLIB3 = """
import sys
from internal.kube.lazyclient import defer_generated_client
defer_generated_client()
import controller.app
from kubernetes_asyncio.client import Configuration
print(sorted(m for m in sys.modules if m.startswith("urllib3")))
import urllib3.util.retry
print(sorted(m for m in sys.modules if m == "urllib3.poolmanager"))
config = Configuration()
config.username, config.password = "user", "secret"
print(config.get_basic_auth_token(), urllib3.Retry is urllib3.util.retry.Retry)
print(urllib3.PoolManager.__module__, "__getattr__" in vars(urllib3))
"""


def test_run_does_not_load_urllib3_and_its_first_use_loads_it_whole() -> None:
    out = subprocess.run(
        [sys.executable, "-c", URLLIB3], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "['urllib3']",
        "[]",
        "Basic dXNlcjpzZWNyZXQ= True",
        "urllib3.poolmanager False",
    ]
