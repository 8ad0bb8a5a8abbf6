"""XML body conditions: `xml` (equality) and `xpath`, compiled once per route.

The body is parsed at most once per request, whatever the number of XML conditions
(`RequestView.derived`), and only by a route that has one; a body that is not
acceptable XML (`xmldoc`: no DTDs, bounded size and depth) fails every XML condition.
Without `namespaces`, an XPath sees local names only (`//order` finds
`<o:order xmlns:o="...">`), as WireMock's namespace-unaware default does.
"""

from __future__ import annotations

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


def _local(view: RequestView) -> Element | str:
    root = parsed_xml(view)
    return root if isinstance(root, str) else xmldoc.without_namespaces(root)


def _not_xml(view: RequestView, reason: str) -> str:
    return f"<not XML: {clip(reason)}> {show_body(view)}" if view.body else "<absent>"


class XmlEqual(Check):
    __slots__ = ("_expected",)
    cost = 8

    def __init__(self, spec: wire.XmlEqual) -> None:
        self.field = "xml" + (" (placeholders)" if spec.placeholders else "")
        self._expected = xmldoc.ExpectedXml(spec.value, spec.placeholders)
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

    def _root(self, view: RequestView) -> Element | str:
        return view.derived("xml_local", _local) if self._local else parsed_xml(view)

    def __call__(self, view: RequestView) -> bool:
        root = self._root(view)
        if isinstance(root, str):
            return False
        values = self._xpath.values(root)
        if values is None:
            return False
        return self._matcher is None or self._matcher.matches_any(values)

    def actual(self, view: RequestView) -> str:
        root = self._root(view)
        if isinstance(root, str):
            return _not_xml(view, root)
        return show_values(self._xpath.values(root) or ())
