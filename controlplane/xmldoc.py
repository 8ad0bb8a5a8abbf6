"""XML documents as matching reads them: parsed safely, compared, queried by XPath.

Parsing refuses what could make a request costly or reach outside: any DTD (so no
entities, no billion laughs, no external entities: defusedxml), bodies over
`MAX_XML_BYTES`, elements nested deeper than `MAX_XML_DEPTH` and documents of more
than `MAX_XML_ELEMENTS` elements. A refused body is "not XML": it matches no XML
condition, it never fails the request.

Equality (`equal`) is namespace-aware and lenient where XML itself is: names compare
by namespace URI and local name (prefixes do not matter), attributes in any order,
comments and processing instructions ignored, text trimmed and whitespace-only text
ignored; elements and text in order. With placeholders, an expected text or attribute
value `${xmlunit.ignore}`, `${xmlunit.isNumber}`, `${xmlunit.isDateTime}` or
`${xmlunit.matchesRegex(RE)}` matches any value, a number, an ISO 8601 date-time or
a full match of RE2 regex RE (XMLUnit's placeholders, which WireMock uses).

XPath (`compile_xpath`) is XPath 2.0 (elementpath), compiled once. Evaluating it costs
far more per element than parsing (about 35 µs per element for `//a[@b='c']` against
5 µs to parse), so it runs on documents of at most `MAX_XPATH_ELEMENTS` elements, on a
node tree (`node_tree`) built once per document and shared by every expression.
elementpath is imported on first use: it costs about 55 ms of start-up, which a server
whose routes never use XPath should not pay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from controlplane import regex as user_regex
from controlplane.dates import parse_iso

__all__ = [
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "MAX_XML_ELEMENTS",
    "MAX_XPATH_ELEMENTS",
    "CompiledXPath",
    "ExpectedXml",
    "XmlError",
    "compile_xpath",
    "node_tree",
    "parse",
    "without_namespaces",
]

MAX_XML_BYTES: Final = 2_000_000
MAX_XML_DEPTH: Final = 200
MAX_XML_ELEMENTS: Final = 10_000
MAX_XPATH_ELEMENTS: Final = 2_000


class XmlError(ValueError):
    """A document that is not (acceptable) XML."""


class _Bounded(TreeBuilder):
    """A tree builder that stops at MAX_XML_DEPTH and MAX_XML_ELEMENTS."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._count = 0

    def start(self, tag: Any, attrs: Any) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_XML_DEPTH:
            raise XmlError(f"elements nest deeper than {MAX_XML_DEPTH}")
        if self._count > MAX_XML_ELEMENTS:
            raise XmlError(f"more than {MAX_XML_ELEMENTS} elements")
        return super().start(tag, attrs)

    def end(self, tag: Any) -> Element:
        self._depth -= 1
        return super().end(tag)


def parse(document: bytes | str) -> Element:
    """The root element of `document`; raises XmlError when it is not acceptable XML."""
    if len(document) > MAX_XML_BYTES:
        raise XmlError(f"larger than {MAX_XML_BYTES} bytes")
    parser = DefusedXMLParser(target=_Bounded(), forbid_dtd=True)
    try:
        parser.feed(document)
        root: Element = parser.close()
    except XmlError:
        raise
    except (ParseError, DefusedXmlException, ValueError, TypeError) as exc:
        raise XmlError(str(exc) or type(exc).__name__) from None
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def without_namespaces(root: Element) -> Element:
    """A copy of `root` with every element and attribute name reduced to its local name."""
    copy = Element(_local(root.tag), {_local(k): v for k, v in root.attrib.items()})
    copy.text, copy.tail = root.text, root.tail
    stack = [(root, copy)]
    while stack:
        source, target = stack.pop()
        for child in source:
            made = Element(_local(child.tag), {_local(k): v for k, v in child.attrib.items()})
            made.text, made.tail = child.text, child.tail
            target.append(made)
            stack.append((child, made))
    return copy


# ------------------------------------------------------------------ equality

_Value = Callable[[str | None], bool]
_PLACEHOLDER = re.compile(r"\$\{xmlunit\.(ignore|isNumber|isDateTime|matchesRegex\((.*)\))\}", re.S)


def _is_number(text: str | None) -> bool:
    try:
        float((text or "").strip())
    except ValueError:
        return False
    return True


def _ignore(actual: str | None) -> bool:
    """`${xmlunit.ignore}`: any value, or (as element text) none at all."""
    return True


def _value_test(expected: str | None, placeholders: bool) -> _Value | str | None:
    """What an expected text or attribute value compares with: a test or a plain text."""
    text = (expected or "").strip() or None
    if not placeholders or text is None:
        return text
    found = _PLACEHOLDER.fullmatch(text)
    if found is None:
        return text
    kind = found.group(1)
    if kind == "ignore":
        return _ignore
    if kind == "isNumber":
        return _is_number
    if kind == "isDateTime":
        return lambda actual: actual is not None and parse_iso(actual) is not None
    pattern = found.group(2)
    try:
        regex = user_regex.compile_user(pattern)
    except user_regex.RegexError as exc:
        raise XmlError(f"placeholder {text!r}: {exc}") from None
    return lambda actual: actual is not None and regex.fullmatch(actual) is not None


class _Node:
    """One expected element, compiled: its name, attribute tests and content.

    `content` is its text and child elements in document order. With `any_order`, the
    children are compared after a stable sort by local name, as WireMock's
    `equalToXml` does (XMLUnit with an order-invariant node matcher): `texts` are then
    its text tests in order and `children` its children already sorted.
    """

    __slots__ = ("any_order", "attrs", "children", "content", "tag", "texts")

    def __init__(self, element: Element, placeholders: bool, any_order: bool) -> None:
        self.tag = element.tag
        self.attrs = {k: _value_test(v, placeholders) for k, v in element.attrib.items()}
        content: list[_Node | _Value | str] = []
        text = _value_test(element.text, placeholders)
        if text is not None:
            content.append(text)
        for child in element:
            content.append(_Node(child, placeholders, any_order))
            tail = _value_test(child.tail, placeholders)
            if tail is not None:
                content.append(tail)
        self.content = content
        self.any_order = any_order
        self.texts = [item for item in content if not isinstance(item, _Node)]
        children = [item for item in content if isinstance(item, _Node)]
        self.children = sorted(children, key=_node_name) if any_order else children


def _node_name(node: _Node) -> str:
    return _local(node.tag)


def _element_name(element: Element) -> str:
    return _local(element.tag)


def _actual_content(element: Element) -> list[Element | str]:
    content: list[Element | str] = []
    if element.text is not None and element.text.strip():
        content.append(element.text.strip())
    for child in element:
        content.append(child)
        if child.tail is not None and child.tail.strip():
            content.append(child.tail.strip())
    return content


def _same_value(test: _Value | str | None, actual: str | None) -> bool:
    if test is None or isinstance(test, str):
        return test == ((actual or "").strip() or None)
    return test(None if actual is None else actual.strip())


def _same_texts(expected: list[_Value | str], actual: list[str]) -> bool:
    if len(expected) != len(actual):
        # An ignored text placeholder also stands for no text at all.
        return not actual and all(test is _ignore for test in expected)
    return all(_same_value(want, got) for want, got in zip(expected, actual, strict=True))


def _same(node: _Node, element: Element) -> bool:
    if node.tag != element.tag or node.attrs.keys() != element.attrib.keys():
        return False
    for name, test in node.attrs.items():
        if not _same_value(test, element.attrib[name]):
            return False
    actual = _actual_content(element)
    if node.any_order:
        texts = [item for item in actual if isinstance(item, str)]
        children = sorted((item for item in actual if isinstance(item, Element)), key=_element_name)
        return (
            len(node.children) == len(children)
            and _same_texts(node.texts, texts)
            and all(_same(want, got) for want, got in zip(node.children, children, strict=True))
        )
    expected: list[_Node | _Value | str] = node.content
    if len(expected) != len(actual):
        # An ignored text placeholder also stands for no text at all.
        if not any(isinstance(e, str) for e in actual) and all(
            test is _ignore for test in node.texts
        ):
            expected = list(node.children)
        if len(expected) != len(actual):
            return False
    for want, got in zip(expected, actual, strict=True):
        if isinstance(want, _Node):
            if not isinstance(got, Element) or not _same(want, got):
                return False
        elif isinstance(got, Element) or not _same_value(want, got):
            return False
    return True


class ExpectedXml:
    """An expected document, parsed and compiled once; `equals(root)` compares a parsed one."""

    __slots__ = ("_root",)

    def __init__(self, document: str, placeholders: bool = False, any_order: bool = False) -> None:
        self._root = _Node(parse(document), placeholders, any_order)

    def equals(self, root: Element) -> bool:
        return _same(self._root, root)


# ------------------------------------------------------------------ XPath


def _text(item: Any) -> str:
    if isinstance(item, Element):
        return "".join(item.itertext())
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    if hasattr(item, "value") and not isinstance(item, str | int | float):
        return str(item.value)  # elementpath's attribute and text nodes
    return str(item)


def node_tree(root: Element) -> Any | None:
    """The XPath view of a parsed document, or None when it has more than
    MAX_XPATH_ELEMENTS elements (too costly to query)."""
    for count, _ in enumerate(root.iter(), 1):
        if count > MAX_XPATH_ELEMENTS:
            return None
    import elementpath

    return elementpath.get_node_tree(root)


class CompiledXPath:
    """An XPath 2.0 expression, parsed once; `values(root)` evaluates it on a document."""

    __slots__ = ("_namespaces", "_token")

    def __init__(self, expression: str, namespaces: dict[str, str] | None) -> None:
        import elementpath

        self._namespaces = dict(namespaces or {})
        parser = elementpath.XPath2Parser(namespaces=self._namespaces)
        try:
            self._token = parser.parse(expression)
        except (elementpath.ElementPathError, ValueError, TypeError) as exc:
            raise XmlError(f"not valid XPath: {exc}") from None

    def values(self, tree: Any) -> list[str] | None:
        """The texts the expression selects in a `node_tree`, or None when it selects
        nothing. A boolean result selects something only when true.
        """
        import elementpath

        try:
            result = self._token.get_results(
                elementpath.XPathContext(tree, namespaces=self._namespaces)
            )
        except (elementpath.ElementPathError, ValueError, TypeError, ArithmeticError):
            return None
        if isinstance(result, bool):
            return ["true"] if result else None
        items = result if isinstance(result, list) else [result]
        return [_text(item) for item in items] or None


def compile_xpath(expression: str, namespaces: dict[str, str] | None = None) -> CompiledXPath:
    """Parse `expression` once; raises XmlError when it is not valid XPath."""
    return CompiledXPath(expression, namespaces)
