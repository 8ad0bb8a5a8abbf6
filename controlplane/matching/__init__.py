"""Request matching: string matchers, conditions, path patterns, the route table, near misses."""

from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.matching.documents import compile_document_match
from controlplane.matching.index import RouteTable
from controlplane.matching.near_miss import assess, rank_near_misses
from controlplane.matching.paths import PathPattern, compile_path
from controlplane.matching.route import CompiledRoute, compile_route
from controlplane.matching.strings import CompiledStringMatcher, compile_string_matcher

__all__ = [
    "CompiledMatch",
    "CompiledRoute",
    "CompiledStringMatcher",
    "PathPattern",
    "RouteTable",
    "assess",
    "compile_document_match",
    "compile_match",
    "compile_path",
    "compile_route",
    "compile_string_matcher",
    "rank_near_misses",
]
