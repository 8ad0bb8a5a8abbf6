"""Generate the Python client's shape module from the server's wire types.

The client (`clients/python`) is standard-library only, so it cannot import msgspec or
`controlplane.wire`. Instead this module reads the wire Structs with
`msgspec.inspect` and writes them out as frozen dataclasses, each with a table of its
wire fields that the client's codec walks. Nothing in the client restates a field by
hand; `tests/test_client_shapes.py` fails when the committed file is stale.
`tools/generate.py` (`make generate`) writes it.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from controlplane import wire

__all__ = ["SHAPES_PATH", "render"]

SHAPES_PATH = (
    Path(__file__).resolve().parent.parent
    / "clients"
    / "python"
    / "src"
    / "controlplane_client"
    / "_shapes.py"
)


def _public_structs() -> list[type[msgspec.Struct]]:
    """Every public Struct of the wire module, in the order the module defines them."""
    found = [
        value
        for name in wire.__all__
        if isinstance(value := getattr(wire, name), type) and issubclass(value, msgspec.Struct)
    ]
    return sorted(found, key=lambda cls: inspect.getsourcelines(cls)[1])


def _public_aliases() -> list[tuple[str, Any]]:
    """Every public union of the wire module (`AnyResponse`, `StringMatcherSpec`, ...)."""
    return [
        (name, value)
        for name in sorted(wire.__all__)
        if isinstance(value := getattr(wire, name), types.UnionType)
    ]


_STRUCTS = _public_structs()
_ALIASES = _public_aliases()

#: Fields a builder takes positionally (`JsonResponse({"a": 1})`), in this order.
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "JsonResponse": ("body",),
    "RawResponse": ("body",),
    "MsgpackResponse": ("body",),
    "YamlResponse": ("body",),
    "TomlResponse": ("body",),
    "SequenceResponse": ("responses",),
    "FaultResponse": ("fault",),
    "JsonPathCondition": ("expression", "matcher"),
}

#: Hand-written helpers (methods over the wire fields, no state) mixed into generated classes.
_MIXINS: dict[str, str] = {
    "CallList": "CallListMixin",
    "CallbackRequest": "RecordedRequestMixin",
    "RecordedRequest": "RecordedRequestMixin",
}


def _member_key(t: mi.Type) -> str:
    return f"struct:{t.cls.__qualname__}" if isinstance(t, mi.StructType) else _annotation(t)


def _alias_of(members: tuple[mi.Type, ...]) -> str | None:
    """The public alias whose members these are (None itself aside), if any."""
    key = {_member_key(t) for t in members if not isinstance(t, mi.NoneType)}
    for name, alias in _ALIASES:
        info = mi.type_info(alias)
        alias_members = info.types if isinstance(info, mi.UnionType) else (info,)
        if key == {_member_key(t) for t in alias_members}:
            return name
    return None


def _annotation(t: mi.Type) -> str:
    if isinstance(t, mi.Metadata):
        return _annotation(t.type)
    if isinstance(t, mi.AnyType):
        return "Any"
    if isinstance(t, mi.StrType):
        return "str"
    if isinstance(t, mi.BoolType):
        return "bool"
    if isinstance(t, mi.IntType):
        return "int"
    if isinstance(t, mi.FloatType):
        return "float"
    if isinstance(t, mi.NoneType):
        return "None"
    if isinstance(t, mi.LiteralType):
        return "Literal[" + ", ".join(repr(v) for v in t.values) + "]"
    if isinstance(t, mi.ListType):
        return f"list[{_annotation(t.item_type)}]"
    if isinstance(t, mi.DictType):
        return f"dict[{_annotation(t.key_type)}, {_annotation(t.value_type)}]"
    if isinstance(t, mi.TupleType):
        return "tuple[" + ", ".join(_annotation(i) for i in t.item_types) + "]"
    if isinstance(t, mi.StructType):
        return t.cls.__name__
    if isinstance(t, mi.UnionType):
        alias = _alias_of(t.types)
        if alias is not None:
            nullable = any(isinstance(m, mi.NoneType) for m in t.types)
            return alias + (" | None" if nullable else "")
        return " | ".join(_annotation(m) for m in t.types)
    raise TypeError(f"no client annotation for {t!r}")


def _kind(t: mi.Type) -> tuple[Any, ...]:
    """The codec's descriptor of a type: nested tuples of plain literals."""
    if isinstance(t, mi.Metadata):  # constraints stated for the schema: the server checks
        return _kind(t.type)
    if isinstance(t, mi.AnyType):
        return ("any",)
    if isinstance(t, mi.StrType):
        return ("str",)
    if isinstance(t, mi.BoolType):
        return ("bool",)
    if isinstance(t, mi.IntType):
        return ("int",)
    if isinstance(t, mi.FloatType):
        return ("float",)
    if isinstance(t, mi.NoneType):
        return ("none",)
    if isinstance(t, mi.LiteralType):
        return ("literal", tuple(t.values))
    if isinstance(t, mi.ListType):
        return ("list", _kind(t.item_type))
    if isinstance(t, mi.DictType):
        return ("dict", _kind(t.value_type))
    if isinstance(t, mi.TupleType):
        return ("tuple", tuple(_kind(i) for i in t.item_types))
    if isinstance(t, mi.StructType):
        return ("struct", t.cls.__name__)
    if isinstance(t, mi.UnionType):
        return ("union", tuple(_kind(m) for m in t.types))
    raise TypeError(f"no client descriptor for {t!r}")


def _default(f: mi.Field) -> str | None:
    """The dataclass default of a field, as source; None when the field is required."""
    if f.required:
        return None
    if f.default_factory is not msgspec.NODEFAULT:
        return f"field(default_factory={f.default_factory.__name__})"
    if f.default is msgspec.NODEFAULT:  # msgspec.UNSET: the field may be left out entirely
        return "UNSET"
    return repr(f.default)


def _field_line(f: mi.Field, positional: bool) -> str:
    annotation = _annotation(f.type)
    default = _default(f)
    if default == "UNSET":
        annotation += " | UnsetType"
    if positional:
        if default is None:
            value = "field(kw_only=False)"
        elif default.startswith("field("):
            value = default[:-1] + ", kw_only=False)"
        else:
            value = f"field(default={default}, kw_only=False)"
        return f"    {f.name}: {annotation} = {value}"
    return f"    {f.name}: {annotation}" + (f" = {default}" if default is not None else "")


def _doc(cls: type) -> str:
    doc = (cls.__doc__ or "").strip().splitlines()
    own = cls.__dict__.get("__doc__")
    return doc[0] if doc and own else f"The `{cls.__name__}` wire shape."


def _render_struct(cls: type[msgspec.Struct]) -> list[str]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    name = cls.__name__
    by_name = {f.name: f for f in info.fields}
    positional = _POSITIONAL.get(name, ())
    ordered = [by_name[p] for p in positional] + [
        f for f in info.fields if f.name not in positional
    ]
    # A public Struct base (UnmatchedRequest extends RecordedRequest) stays a base class.
    parent = cls.__mro__[1]
    inherited = set(parent.__struct_fields__) if parent in _STRUCTS else set()
    base_name = parent.__name__ if parent in _STRUCTS else _MIXINS.get(name)
    bases = f"({base_name})" if base_name else ""
    config = cls.__struct_config__
    lines = [
        "@dataclass(frozen=True, kw_only=True)",
        f"class {name}{bases}:",
        f'    """{_doc(cls)}"""',
        "",
        f"    __wire_tag__: ClassVar[str | None] = {info.tag!r}",
        f"    __wire_omit_defaults__: ClassVar[bool] = {config.omit_defaults!r}",
        "    __wire_fields__: ClassVar[tuple[WireField, ...]] = (",
    ]
    lines += [f"        ({f.name!r}, {f.encode_name!r}, {_kind(f.type)!r})," for f in ordered]
    lines += ["    )", ""]
    lines += [_field_line(f, f.name in positional) for f in ordered if f.name not in inherited]
    return lines


_HEADER = '''\
"""The wire shapes of the controlplane admin API, as dataclasses.

GENERATED by `make generate` (tools/generate.py) from `controlplane.wire`; do not edit.
Each class lists its wire fields (`__wire_fields__`: attribute, JSON name, type
descriptor) for the codec in `controlplane_client._codec`.
"""

# ruff: noqa: E501

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

from controlplane_client._mixins import CallListMixin, RecordedRequestMixin

#: (attribute name, JSON name, type descriptor)
WireField = tuple[str, str, tuple[Any, ...]]


class UnsetType:
    """The type of `UNSET`: a field left out of the JSON (distinct from JSON null)."""

    _instance: ClassVar[UnsetType | None] = None

    def __new__(cls) -> UnsetType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = UnsetType()
'''


def render() -> str:
    """The whole generated module, as text."""
    parts = [_HEADER]
    for cls in _STRUCTS:
        parts.append("\n\n" + "\n".join(_render_struct(cls)) + "\n")
    parts.append("\n\n")
    for name, alias in _ALIASES:
        info = mi.type_info(alias)
        members = info.types if isinstance(info, mi.UnionType) else (info,)
        parts.append(f"{name} = {' | '.join(_annotation(m) for m in members)}\n")
    names = sorted(
        [c.__name__ for c in _STRUCTS] + [n for n, _ in _ALIASES] + ["UNSET", "UnsetType"],
        key=lambda n: (not n.isupper(), n),
    )
    parts.append(
        '\n#: Every generated class by name (the codec resolves `("struct", name)` here).\n'
        "STRUCTS: Final[dict[str, type]] = {\n"
        + "".join(f"    {c.__name__!r}: {c.__name__},\n" for c in _STRUCTS)
        + "}\n\n__all__ = [\n"
        + "".join(f"    {n!r},\n" for n in names)
        + "]\n"
    )
    return "".join(parts)
