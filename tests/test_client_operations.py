"""The Python client's operations against the server's one table of them.

Each client operation must be an operation of `controlplane.admin.app.OPERATIONS`
(method and path), take a body exactly when the operation does (an optional body may
be left out), and treat as success only statuses the operation answers with; every
operation but the OpenAPI document has a client operation.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import controlplane_client as native
import msgspec
from controlplane_client._base import BaseClient
from controlplane_client._ops import NO_BODY, Op, Ops

from controlplane import wire
from controlplane.admin.app import OPERATIONS

OPS = Ops("SID")
ROUTE = native.Route(method="GET", path="/x", handler="h")
CLIENT: dict[str, Op[Any]] = {
    "health": Ops.health(),
    "create_session": Ops.create_session("n", None),
    "list_sessions": Ops.list_sessions(),
    "get_session": Ops.get_session("SID"),
    "delete_session": Ops.delete_session("SID"),
    "add_routes": OPS.add_routes(native.Route(method="GET", path="/x", handler="h")),
    "list_routes": OPS.list_routes(),
    "delete_routes": OPS.delete_routes(),
    "get_route": OPS.get_route("RID"),
    "replace_route": OPS.replace_route("RID", native.Route(method="GET", path="/x", handler="h")),
    "delete_route": OPS.delete_route("RID"),
    "register": OPS.register("NAME", native.JsonResponse({})),
    "handlers": OPS.handlers(),
    "calls": OPS.calls("NAME"),
    "verify": OPS.verify("NAME", times=1),
    "requests": OPS.requests(),
    "unmatched": OPS.unmatched(),
    "clear_requests": OPS.clear_requests(),
    "scenarios": OPS.scenarios(),
    "reset_scenarios": OPS.reset_scenarios(),
    "set_scenario_state": OPS.set_scenario_state("NAME", None),
    "settings": OPS.settings(),
    "update_settings": OPS.update_settings(native.Settings()),
    "reset": OPS.reset(),
    "start_recording": OPS.start_recording("http://o", None, [], True),
    "recording_status": OPS.recording_status(),
    "stop_recording": OPS.stop_recording(),
    "snapshot_recording": OPS.snapshot_recording(None, ["Accept"], False),
    "push_event": OPS.push_event("NAME", native.SseEvent(data="x")),
    "push_message": OPS.push_message("NAME", native.WsMessage(text="x")),
    "messages": OPS.messages("NAME"),
    "close_connections": OPS.close_connections("NAME", 1000, ""),
    "webhooks": OPS.webhooks(),
    "clear_webhooks": OPS.clear_webhooks(),
}
PLACEHOLDERS = {"SID": "{sid}", "RID": "{route_id}", "NAME": "{name}"}


def template(path: str) -> str:
    return re.sub("|".join(PLACEHOLDERS), lambda m: PLACEHOLDERS[m.group(0)], path)


SERVED = {(op.method, path): op for op in OPERATIONS for path, _ in op.routes()}


def test_every_client_operation_is_a_served_operation_with_the_same_body_and_answers() -> None:
    for name, op in CLIENT.items():
        served = SERVED.get((op.method, template(op.path)))
        assert served is not None, f"{name}: {op.method} {template(op.path)} is not served"
        sends_body = op.body is not NO_BODY
        assert sends_body == (served.body is not None) or served.body_optional, name
        answers = {s for s, (_, shape) in served.answers.items() if shape is not wire.ErrorBody}
        assert set(op.ok) <= answers, (name, op.ok, answers)


def test_every_served_operation_has_a_client_operation() -> None:
    # The client reaches the `default` session at /api/sessions/default, so the /api
    # aliases of session-scoped operations need no operation of their own.
    covered = {(op.method, template(op.path)) for op in CLIENT.values()}
    aliases = {(op.method, "/api" + op.path) for op in OPERATIONS if op.scope == "session"}
    # The journal's event stream is for browsers and SSE clients; a suite pages the
    # journal (`requests(after=...)`) instead.
    unwrapped = {("GET", "/api/openapi.json"), ("GET", "/api/sessions/{sid}/requests/stream")}
    wanted = set(SERVED) - aliases - unwrapped
    assert wanted - covered == set()


def _shape_names(t: Any) -> set[str]:
    if typing.get_origin(t) is typing.Annotated:
        return _shape_names(typing.get_args(t)[0])
    if isinstance(t, types.UnionType):
        return set().union(*(_shape_names(member) for member in typing.get_args(t)))
    if typing.get_origin(t) is list:
        return {f"list[{name}]" for name in _shape_names(typing.get_args(t)[0])}
    return {t.__name__}


def _shape_name(body: Any) -> str:
    if isinstance(body, list):
        return f"list[{'|'.join(sorted({type(item).__name__ for item in body}))}]"
    return type(body).__name__


def test_every_client_body_is_the_generated_shape_of_the_served_body() -> None:
    verify_all = OPS.verify(
        "NAME", times=1, at_least=1, at_most=2, json=None, body="b", headers={"a": "1"}, query={}
    )
    sent = {**CLIENT, "verify_all": verify_all, "add_two": OPS.add_routes([ROUTE, ROUTE])}
    for name, op in sent.items():
        if op.body is NO_BODY:
            continue
        served = SERVED[(op.method, template(op.path))]
        assert _shape_name(op.body) in _shape_names(served.body), name
        body = BaseClient("http://127.0.0.1:9")._request(op).body
        assert body is not None, name
        msgspec.json.decode(body, type=served.body)  # what the server accepts
    assert msgspec.json.decode(BaseClient("http://x")._request(verify_all).body or b"") == {
        "times": 1,
        "at_least": 1,
        "at_most": 2,
        "json": None,
        "body": "b",
        "headers": {"a": "1"},
        "query": {},
    }
