"""The OpenAPI 3.1 document of the native admin API, generated from the wire types.

Schemas come from `msgspec.json.schema_components` over the same Structs that validate
admin input, and the operations from the table the router registers
(`controlplane.admin.app.OPERATIONS`), so the document cannot drift from what the
server serves.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import msgspec

from controlplane import wire
from controlplane._version import __version__

__all__ = ["openapi_document", "openapi_spec"]

_REF = "#/components/schemas/{name}"


@cache
def openapi_spec() -> dict[str, Any]:
    """The document as a dict (built once)."""
    from controlplane.admin.app import OPERATIONS  # the router's table, rendered

    types: list[Any] = []
    for op in OPERATIONS:
        if op.body is not None:
            types.append(op.body)
        types.extend(
            schema
            for path, _ in op.routes()
            for _, schema in op.answers_at(path).values()
            if schema is not None
        )
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=_REF)
    components = _clean_descriptions(_with_extras(components))
    schema_of = dict(zip(unique, schemas, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    served = [(op, path, summary) for op in OPERATIONS for path, summary in op.routes()]
    for op, path, summary in served:
        method = op.method.lower()
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path}".replace("/", "_").replace("{", "").replace("}", ""),
            "responses": {
                str(status): (
                    {"description": description}
                    | (
                        {"content": {"application/json": {"schema": schema_of[schema]}}}
                        if schema is not None
                        else {}
                    )
                )
                for status, (description, schema) in op.answers_at(path).items()
            },
        }
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in ("sid", "route_id", "name")
            if "{" + name + "}" in path
        ]
        params += [_query_parameter(p) for p in op.query]
        if params:
            operation["parameters"] = params
        if op.body is not None:
            operation["requestBody"] = {
                "required": not op.body_optional,
                "content": {"application/json": {"schema": schema_of[op.body]}},
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "controlplane admin API",
            "version": __version__,
            "description": "Native admin API of the controlplane HTTP mock server.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def _query_parameter(parameter: Mapping[str, Any]) -> dict[str, Any]:
    """An optional query parameter; the server reads an empty value (`?limit=`) as an
    absent one, so the schema admits "" beside the typed value."""
    schema = {"anyOf": [parameter["schema"], {"const": ""}]}
    return {"in": "query", "required": False} | dict(parameter) | {"schema": schema}


def _with_extras(components: dict[str, Any]) -> dict[str, Any]:
    """`components` with each wire Struct's `json_schema_extra` (whole-object
    constraints such as "exactly one of", which msgspec cannot attach to a
    component) merged in."""
    merged = {}
    for name, schema in components.items():
        extra = getattr(getattr(wire, name, None), "json_schema_extra", None)
        merged[name] = schema | extra if extra else schema
    return merged


def _clean_descriptions(node: Any) -> Any:
    """`node` with every `description` dedented as `inspect.cleandoc` does.

    Descriptions come from docstrings, whose indentation depends on the Python version
    (3.13 dedents `__doc__`, 3.11 does not) and on msgspec's handling of it: normalising
    here keeps the document the same wherever it is generated.
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


@cache
def openapi_document() -> bytes:
    """The document as indented JSON bytes and a newline (what `GET /api/openapi.json` serves).

    Laid out by the standard library's `json` rather than a dependency's formatter, so
    the committed copy does not change with library versions.
    """
    return json.dumps(openapi_spec(), indent=2, ensure_ascii=False).encode() + b"\n"
