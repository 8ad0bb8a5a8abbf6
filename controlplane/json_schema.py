"""JSON Schema validators (jsonschema-rs), built once per schema.

Drafts 4, 6, 7, 2019-09 and 2020-12: the one given, else the schema's `$schema`, else
2020-12 (WireMock's default). References resolve inside the schema only: validators
are built offline, so a `$ref` to a URL is an error when the route is added rather
than a network call.
"""

from __future__ import annotations

from typing import Any, Final

import jsonschema_rs

__all__ = ["DRAFTS", "SchemaError", "compile_schema"]

DRAFTS: Final = {
    "4": jsonschema_rs.Draft4Validator,
    "6": jsonschema_rs.Draft6Validator,
    "7": jsonschema_rs.Draft7Validator,
    "2019-09": jsonschema_rs.Draft201909Validator,
    "2020-12": jsonschema_rs.Draft202012Validator,
}


class SchemaError(ValueError):
    """A schema that cannot be used."""


def _refuse(uri: str) -> Any:
    raise SchemaError(f"$ref {uri!r} is outside the schema (remote references are refused)")


def compile_schema(schema: Any, draft: str | None = None) -> Any:
    """A validator for `schema` (with `is_valid(instance)`); raises SchemaError."""
    if not isinstance(schema, dict | bool):
        raise SchemaError("not a JSON object (or true/false), which a schema is")
    try:
        if draft is None:
            declared = isinstance(schema, dict) and "$schema" in schema
            if declared:
                return jsonschema_rs.validator_for(schema, retriever=_refuse)
            draft = "2020-12"
        return DRAFTS[draft](schema, retriever=_refuse)
    except SchemaError:
        raise
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(f"not a valid schema: {message}") from None
