"""`json_schema`: the body parsed as JSON is valid against a schema, validator built once.

A near miss names the first violation (`/age: "x" is not of type "integer"`).
"""

from __future__ import annotations

from controlplane import json_schema, wire
from controlplane.matching.checks import Check, clip, json_text, show_json_body
from controlplane.request_view import NOT_JSON, RequestView

__all__ = ["JsonSchema"]


class JsonSchema(Check):
    __slots__ = ("_validator",)
    cost = 7

    def __init__(self, spec: wire.JsonSchemaCondition) -> None:
        self.field = "json_schema" + ("" if spec.draft is None else f" (draft {spec.draft})")
        self._validator = json_schema.compile_schema(spec.schema, spec.draft)
        self.expected = clip(json_text(spec.schema))

    def __call__(self, view: RequestView) -> bool:
        data = view.json
        return data is not NOT_JSON and bool(self._validator.is_valid(data))

    def actual(self, view: RequestView) -> str:
        data = view.json
        if data is NOT_JSON:
            return show_json_body(view)
        for error in self._validator.iter_errors(data):
            where = "/" + "/".join(str(step) for step in error.instance_path)
            return clip(f"{where}: {error.message}") + f" in {show_json_body(view)}"
        return show_json_body(view)
