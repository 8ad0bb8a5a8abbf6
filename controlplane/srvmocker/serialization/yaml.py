"""YAML through PyYAML's `yaml.dump` (datetimes as YAML timestamps), as asyncly."""

from __future__ import annotations

from typing import Final

import yaml

from controlplane.srvmocker.serialization.base import Serializer

__all__ = ["YamlSerializer"]

YamlSerializer: Final = Serializer(dumps=yaml.dump, content_type="application/yaml")
