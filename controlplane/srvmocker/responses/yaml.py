"""`YamlResponse`: `body` as YAML, `application/yaml`."""

from __future__ import annotations

from controlplane.srvmocker.responses.content import FormatResponse
from controlplane.srvmocker.serialization.yaml import YamlSerializer

__all__ = ["YamlResponse"]


class YamlResponse(FormatResponse, native=True):
    """`body` as YAML, `application/yaml`.

    Encoded when registered, by the format's serializer:
    `yaml.dump` writes a datetime as a YAML timestamp.
    """

    serializer = YamlSerializer
