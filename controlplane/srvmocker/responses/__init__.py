"""asyncly's responses, at asyncly's paths (`controlplane.srvmocker.responses.timeout`...).

This package exports what asyncly's does; each format response lives in its module:
`.json`, `.msgpack`, `.yaml`, `.toml`, `.content`, `.sequence`, `.base`.
"""

from controlplane.srvmocker.responses.faults import DisconnectResponse, TruncatedResponse
from controlplane.srvmocker.responses.raw import RawResponse
from controlplane.srvmocker.responses.timeout import LatencyResponse

__all__ = (
    "DisconnectResponse",
    "LatencyResponse",
    "RawResponse",
    "TruncatedResponse",
)
