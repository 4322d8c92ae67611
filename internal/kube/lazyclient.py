"""kubernetes-asyncio's packages import every generated API and model class on first import
(some 1,900 modules, about 50 MiB of a controller's private memory), though Helmward sends raw
JSON through the ApiClient and reads none of them. `defer_generated_client` puts stand-ins for
those packages in `sys.modules` first: a submodule imports as ever, the ApiClient and
Configuration come from their own modules, and any other name runs the package's real
`__init__` then, so code that does use a generated class still finds it.

The ApiClient's Configuration also imports urllib3 (a twentieth of `helmward run`'s import
CPU) for a basic-auth header Helmward never asks it for. `import urllib3` gets a module that
is not yet run: the first use of a name of its own runs it whole, as S3's client does when a
Bucket first needs it (a submodule imports as ever, as with the stand-ins). importlib's
LazyLoader would not do: on Python 3.11 the import statement reads the module's `__spec__`,
which loads it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

PACKAGES = ("kubernetes_asyncio", "kubernetes_asyncio.client", "kubernetes_asyncio.client.models")
DIRECT = {
    "kubernetes_asyncio.client": {
        "ApiClient": "kubernetes_asyncio.client.api_client",
        "Configuration": "kubernetes_asyncio.client.configuration",
        "ApiException": "kubernetes_asyncio.client.exceptions",
    }
}
"""Names a package re-exports, and the module they are defined in."""
LAZY = ("urllib3",)
"""Modules imported but not used at start: loaded on their first attribute access."""


def defer_generated_client() -> bool:
    """Install the stand-ins; False when kubernetes-asyncio is already imported or missing."""
    for name in LAZY:
        _load_lazily(name)
    if any(name in sys.modules for name in PACKAGES):
        return False
    spec = importlib.util.find_spec(PACKAGES[0])
    if spec is None or spec.origin is None:
        return False
    root = Path(spec.origin).parent
    for name in PACKAGES:
        directory = root.joinpath(*name.split(".")[1:])
        sys.modules[name] = _stand_in(name, directory)
    return True


def _load_lazily(name: str) -> None:
    """`name` in `sys.modules` as its own module object, run on the first access to a name it
    does not have yet."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    lock = threading.RLock()

    def __getattr__(attr: str) -> Any:
        with lock:
            if module.__dict__.get("__getattr__") is __getattr__:
                del module.__dict__["__getattr__"]
                assert spec.loader is not None
                spec.loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module


def _stand_in(name: str, directory: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(directory)]
    module.__file__ = str(directory / "__init__.py")
    module.__package__ = name
    state = {"loaded": False}

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr in DIRECT.get(name, {}):
            value = getattr(importlib.import_module(DIRECT[name][attr]), attr)
        elif (directory / attr).is_dir() or (directory / f"{attr}.py").is_file():
            value = importlib.import_module(f"{name}.{attr}")
        elif not state["loaded"]:
            state["loaded"] = True
            init = directory / "__init__.py"
            exec(compile(init.read_text(), str(init), "exec"), module.__dict__)
            return getattr(module, attr)
        else:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        setattr(module, attr, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module
