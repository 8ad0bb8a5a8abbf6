"""Shapes <-> JSON, driven by the generated `__wire_fields__` tables.

`to_wire` leaves out `UNSET` fields, and defaults where the server's type does the same
(`__wire_omit_defaults__`), so what the client sends is what the server echoes.
`from_wire` ignores keys it does not know (a newer server may add fields) unless
`strict=True`, which the agreement tests use.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from controlplane_client._shapes import STRUCTS, UNSET
from controlplane_client.errors import WireFormatError

__all__ = ["WireFormatError", "from_wire", "to_wire"]

T = TypeVar("T")


def to_wire(value: Any) -> Any:
    """A shape (or a list/dict of them) as plain JSON-able Python."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _struct_to_wire(value)
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    return value


def _struct_to_wire(value: Any) -> dict[str, Any]:
    cls = type(value)
    out: dict[str, Any] = {}
    if cls.__wire_tag__ is not None:
        out["type"] = cls.__wire_tag__
    defaults = {f.name: f for f in dataclasses.fields(value)}
    for attr, wire_name, _ in cls.__wire_fields__:
        item = getattr(value, attr)
        if item is UNSET:
            continue
        if cls.__wire_omit_defaults__ and _is_default(item, defaults[attr]):
            continue
        out[wire_name] = to_wire(item)
    return out


def _is_default(value: Any, f: dataclasses.Field[Any]) -> bool:
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


def from_wire(cls: type[T], data: Any, *, strict: bool = False) -> T:
    """Parse `data` (decoded JSON) into the generated class `cls`."""
    parsed: T = _struct(cls.__name__, data, strict, "$")
    return parsed


def _struct(name: str, data: Any, strict: bool, where: str) -> Any:
    cls: Any = STRUCTS[name]
    if not isinstance(data, dict):
        raise WireFormatError(f"{where}: expected an object for {name}, got {_json_type(data)}")
    known = {wire_name for _, wire_name, _ in cls.__wire_fields__}
    if cls.__wire_tag__ is not None:
        known.add("type")
        if data.get("type") != cls.__wire_tag__:
            raise WireFormatError(f"{where}.type: expected {cls.__wire_tag__!r}")
    if strict and (unknown := sorted(set(data) - known)):
        raise WireFormatError(f"{where}: {name} has no field(s) {', '.join(unknown)}")
    kwargs = {
        attr: _value(kind, data[wire_name], strict, f"{where}.{wire_name}")
        for attr, wire_name, kind in cls.__wire_fields__
        if wire_name in data
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise WireFormatError(f"{where}: cannot build {name}: {exc}") from None


def _value(kind: tuple[Any, ...], data: Any, strict: bool, where: str) -> Any:
    tag = kind[0]
    if tag == "any":
        return data
    if tag == "struct":
        return _struct(kind[1], data, strict, where)
    if tag == "union":
        return _value(_pick(kind[1], data, where), data, strict, where)
    if tag == "list":
        _expect(isinstance(data, list), "a list", data, where)
        return [_value(kind[1], item, strict, f"{where}[{i}]") for i, item in enumerate(data)]
    if tag == "tuple":
        _expect(isinstance(data, list) and len(data) == len(kind[1]), "a pair", data, where)
        return tuple(
            _value(k, item, strict, f"{where}[{i}]")
            for i, (k, item) in enumerate(zip(kind[1], data, strict=True))
        )
    if tag == "dict":
        _expect(isinstance(data, dict), "an object", data, where)
        return {key: _value(kind[1], item, strict, f"{where}.{key}") for key, item in data.items()}
    if tag == "float":
        _expect(_is_number(data), "a number", data, where)
        return float(data)
    _expect(_scalar_fits(kind, data), tag, data, where)
    return data


def _is_number(data: Any) -> bool:
    return isinstance(data, int | float) and not isinstance(data, bool)


def _scalar_fits(kind: tuple[Any, ...], data: Any) -> bool:
    tag = kind[0]
    if tag == "str":
        return isinstance(data, str)
    if tag == "bool":
        return isinstance(data, bool)
    if tag == "int":
        return isinstance(data, int) and not isinstance(data, bool)
    if tag == "none":
        return data is None
    if tag == "literal":
        return data in kind[1]
    return False


def _fits(kind: tuple[Any, ...], data: Any) -> bool:
    tag = kind[0]
    if tag == "any":
        return True
    if tag == "struct":
        cls: Any = STRUCTS[kind[1]]
        return isinstance(data, dict) and (
            cls.__wire_tag__ is None or data.get("type") == cls.__wire_tag__
        )
    if tag in ("list", "tuple"):
        return isinstance(data, list)
    if tag == "dict":
        return isinstance(data, dict)
    if tag == "float":
        return _is_number(data)
    return _scalar_fits(kind, data)


def _pick(members: tuple[tuple[Any, ...], ...], data: Any, where: str) -> tuple[Any, ...]:
    for member in members:
        if _fits(member, data):
            return member
    raise WireFormatError(f"{where}: unexpected {_json_type(data)} {data!r:.80}")


def _expect(ok: bool, what: str, data: Any, where: str) -> None:
    if not ok:
        raise WireFormatError(f"{where}: expected {what}, got {_json_type(data)}")


def _json_type(data: Any) -> str:
    if data is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(data), "number")
