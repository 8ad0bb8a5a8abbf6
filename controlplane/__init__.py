"""controlplane: an HTTP mock server in the style of WireMock.

Mock traffic on one port, a JSON admin API on another, isolated sessions so many
suites can share one instance.

`ControlplaneServer` and `ServerConfig` are imported on first access (a module
`__getattr__`), not with the package: the pytest plugin lives in this package, and a
test run that never asks for a controlplane fixture must not pay for aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controlplane._version import __version__

if TYPE_CHECKING:
    from controlplane.server import ControlplaneServer, ServerConfig

__all__ = ["ControlplaneServer", "ServerConfig", "__version__"]

#: Lazily imported top-level names, and the module that defines each.
_LAZY = {"ControlplaneServer": "controlplane.server", "ServerConfig": "controlplane.server"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        # AttributeError (not ImportError) lets `from controlplane import wire` fall back
        # to importing the submodule.
        raise AttributeError(f"module 'controlplane' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
