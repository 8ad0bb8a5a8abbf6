"""The public names are a contract: changing them is a deliberate, visible act."""

from __future__ import annotations

import controlplane
from controlplane import wire


def test_package_exports_are_pinned() -> None:
    assert sorted(controlplane.__all__) == ["ControlplaneServer", "ServerConfig", "__version__"]


def test_wire_exports_every_public_shape() -> None:
    assert sorted(wire.__all__) == sorted(
        [
            "PATH_PARAM",
            "UNSET",
            "AnyResponse",
            "CallList",
            "ChunkedDribble",
            "Delay",
            "Diff",
            "ErrorBody",
            "ErrorDetail",
            "FaultResponse",
            "HandlerInfo",
            "HandlerList",
            "HeaderValues",
            "Health",
            "InProcessResponse",
            "JsonCompare",
            "JsonPathCondition",
            "JsonResponse",
            "LognormalDelay",
            "Match",
            "MsgpackResponse",
            "NearMiss",
            "NoRouteBody",
            "ProxyResponse",
            "RawResponse",
            "RecordedRequest",
            "RecordedResponse",
            "RequestList",
            "Route",
            "RouteList",
            "Scenario",
            "ScenarioInfo",
            "ScenarioList",
            "ScenarioStateUpdate",
            "SequenceResponse",
            "Session",
            "SessionCreate",
            "SessionList",
            "Settings",
            "StringMatcher",
            "StringMatcherSpec",
            "TomlResponse",
            "UnknownSessionBody",
            "UnmatchedRequest",
            "UnmatchedRequestList",
            "VerifyRequest",
            "VerifyResult",
            "YamlResponse",
            "response_type",
        ]
    )
    for name in wire.__all__:
        assert hasattr(wire, name), name
