"""kubernetes-asyncio's packages import every generated API and model class on first import
(some 1,900 modules, about 50 MiB of a controller's private memory), though Helmward sends raw
JSON through the ApiClient and reads none of them. `defer_generated_client` puts stand-ins for
those packages in `sys.modules` first: a submodule imports as ever, the ApiClient and
Configuration come from their own modules, and any other name runs the package's real
`__init__` then, so code that does use a generated class still finds it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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


def defer_generated_client() -> bool:
    """Install the stand-ins; False when kubernetes-asyncio is already imported or missing."""
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
