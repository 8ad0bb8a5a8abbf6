"""JSON through the standard library's `json.dumps`, as asyncly."""

from __future__ import annotations

import json
from typing import Final

from controlplane.srvmocker.serialization.base import Serializer

__all__ = ["JsonSerializer"]

JsonSerializer: Final = Serializer(dumps=json.dumps, content_type="application/json")
