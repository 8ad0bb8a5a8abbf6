"""controlplane: an HTTP mock server in the style of WireMock.

Mock traffic on one port, a JSON admin API on another, isolated sessions so many
suites can share one instance.
"""

from controlplane._version import __version__
from controlplane.server import ControlplaneServer, ServerConfig

__all__ = ["ControlplaneServer", "ServerConfig", "__version__"]
