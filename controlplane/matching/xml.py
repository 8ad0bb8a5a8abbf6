"""XML body conditions: `xml` (equality) and `xpath`, compiled once per route.

The body is parsed at most once per request, whatever the number of XML conditions
(`RequestView.derived`), and only by a route that has one; a body that is not
acceptable XML (`xmldoc`: no DTDs, bounded size and depth) fails every XML condition.
Without `namespaces`, an XPath sees local names only (`//order` finds
`<o:order xmlns:o="...">`), as WireMock's namespace-unaware default does. XPath runs
on documents of at most `xmldoc.MAX_XPATH_ELEMENTS` elements, on one node tree per
request shared by every expression.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from controlplane import wire, xmldoc
from controlplane.matching.checks import Check, clip, show_body, show_values
from controlplane.matching.strings import compile_string_matcher
from controlplane.request_view import RequestView

__all__ = ["XPath", "XmlEqual", "parsed_xml"]


def _parse(view: RequestView) -> Element | str:
    """The body's root element, or why it is not XML."""
    if not view.body:
        return "empty body"
    try:
        return xmldoc.parse(view.body)
    except xmldoc.XmlError as exc:
        return str(exc)


def parsed_xml(view: RequestView) -> Element | str:
    """The request body as XML (once per request), or the reason it is not."""
    return view.derived("xml", _parse)


_TOO_LARGE = f"more than {xmldoc.MAX_XPATH_ELEMENTS} elements, too many to query by XPath"


def _tree(root: Element | str) -> Any:
    if isinstance(root, str):
        return root
    tree = xmldoc.node_tree(root)
    return _TOO_LARGE if tree is None else tree


def _namespaced_tree(view: RequestView) -> Any:
    return _tree(parsed_xml(view))


def _local_tree(view: RequestView) -> Any:
    root = parsed_xml(view)
    return _tree(root if isinstance(root, str) else xmldoc.without_namespaces(root))


def _not_xml(view: RequestView, reason: str) -> str:
    return f"<not XML: {clip(reason)}> {show_body(view)}" if view.body else "<absent>"


class XmlEqual(Check):
    __slots__ = ("_expected",)
    cost = 8

    def __init__(self, spec: wire.XmlEqual) -> None:
        self.field = "xml" + (" (placeholders)" if spec.placeholders else "")
        self._expected = xmldoc.ExpectedXml(spec.value, spec.placeholders, spec.any_order)
        self.expected = clip(spec.value)

    def __call__(self, view: RequestView) -> bool:
        root = parsed_xml(view)
        return not isinstance(root, str) and self._expected.equals(root)

    def actual(self, view: RequestView) -> str:
        root = parsed_xml(view)
        return _not_xml(view, root) if isinstance(root, str) else show_body(view)


class XPath(Check):
    __slots__ = ("_local", "_matcher", "_xpath")
    cost = 8

    def __init__(self, spec: wire.XPathCondition) -> None:
        self.field = f"xpath {spec.expression}"
        self._xpath = xmldoc.compile_xpath(spec.expression, spec.namespaces)
        self._local = not spec.namespaces
        self._matcher = None if spec.matcher is None else compile_string_matcher(spec.matcher)
        self.expected = "exists" if self._matcher is None else self._matcher.description

    def _tree(self, view: RequestView) -> Any:
        """The request's node tree (local names or not), or why there is none."""
        if self._local:
            return view.derived("xpath_local", _local_tree)
        return view.derived("xpath", _namespaced_tree)

    def __call__(self, view: RequestView) -> bool:
        tree = self._tree(view)
        if isinstance(tree, str):
            return False
        values = self._xpath.values(tree)
        if values is None:
            return False
        return self._matcher is None or self._matcher.matches_any(values)

    def actual(self, view: RequestView) -> str:
        tree = self._tree(view)
        if tree is _TOO_LARGE:
            return f"<not evaluated: {_TOO_LARGE}>"
        if isinstance(tree, str):
            return _not_xml(view, tree)
        return show_values(self._xpath.values(tree) or ())
