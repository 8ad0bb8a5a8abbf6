"""Static responses as real clients see them: bodies, content types, statuses, headers."""

from __future__ import annotations

import base64
import tomllib
from typing import Any

import aiohttp
import httpx
import msgpack
import msgspec
import pytest
import yaml
from aiohttp import web

from controlplane import wire
from controlplane.responses import ResponseSpecError, compile_response, no_response_outcome
from controlplane.responses.bodies import BodyResponder
from tests.responses_support import responder_for, serve, view

BINARY = bytes(range(256)) + b"\xff\xfe\x00not utf-8"


async def test_json_body_reaches_aiohttp_and_httpx_with_status_and_headers() -> None:
    spec = {
        "type": "json",
        "status": 201,
        "headers": {"X-Trace": "abc", "Cache-Control": "no-store"},
        "body": {"id": 42, "tags": ["a", "b"], "nested": {"ok": True, "none": None}},
    }
    async with serve(spec) as srv, aiohttp.ClientSession() as session, session.get(srv.url) as resp:
        assert resp.status == 201
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["X-Trace"] == "abc"
        assert resp.headers["Cache-Control"] == "no-store"
        assert await resp.json() == spec["body"]
        async with httpx.AsyncClient() as client:
            answer = await client.post(srv.url, json={"ignored": True})
        assert answer.status_code == 201
        assert answer.json() == spec["body"]
        assert answer.headers["x-trace"] == "abc"


async def test_json_null_body_is_the_json_literal_null() -> None:
    async with serve({"type": "json"}) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.status_code == 200
    assert answer.content == b"null"


async def test_content_type_in_headers_wins_whatever_its_case() -> None:
    spec = {"type": "json", "headers": {"content-TYPE": "application/problem+json"}, "body": {}}
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.headers.get_list("content-type") == ["application/problem+json"]


async def test_raw_text_is_sent_verbatim_as_utf8_plain_text() -> None:
    text = "héllo\nwörld ✓ {not json"
    async with (
        serve({"type": "raw", "status": 418, "body": text}) as srv,
        httpx.AsyncClient() as client,
    ):
        answer = await client.get(srv.url)
    assert answer.status_code == 418
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.content == text.encode("utf-8")


async def test_raw_base64_bytes_arrive_exactly_as_octet_stream() -> None:
    spec = {"type": "raw", "body_base64": base64.b64encode(BINARY).decode()}
    async with serve(spec) as srv, aiohttp.ClientSession() as session, session.get(srv.url) as resp:
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert await resp.read() == BINARY


async def test_raw_content_type_field_overrides_the_default() -> None:
    spec = {"type": "raw", "body": "<p>hi</p>", "content_type": "text/html; charset=utf-8"}
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.text == "<p>hi</p>"


async def test_raw_content_type_header_wins_over_content_type_field() -> None:
    spec = {
        "type": "raw",
        "body_base64": base64.b64encode(b"GIF89a").decode(),
        "content_type": "text/plain",
        "headers": {"Content-Type": "image/gif"},
    }
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.headers.get_list("content-type") == ["image/gif"]
    assert answer.content == b"GIF89a"


async def test_raw_without_body_is_an_empty_body() -> None:
    async with serve({"type": "raw", "status": 202}) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.status_code == 202
    assert answer.content == b""
    assert answer.headers["content-length"] == "0"


BODY: dict[str, Any] = {"name": "Whiskers", "age": 3, "tags": ["cat", "grey"], "owner": {"id": 7}}


async def test_msgpack_body_round_trips_through_msgpack() -> None:
    async with serve({"type": "msgpack", "body": BODY}) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(answer.content) == BODY


async def test_yaml_body_round_trips_through_pyyaml() -> None:
    spec = {"type": "yaml", "status": 203, "body": BODY}
    async with serve(spec) as srv, aiohttp.ClientSession() as session, session.get(srv.url) as resp:
        assert resp.status == 203
        assert resp.headers["Content-Type"] == "application/yaml"
        assert yaml.safe_load(await resp.read()) == BODY


async def test_toml_body_round_trips_through_tomllib() -> None:
    spec = {"type": "toml", "headers": {"X-Format": "toml"}, "body": BODY}
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    assert answer.headers["content-type"] == "application/toml"
    assert answer.headers["x-format"] == "toml"
    assert tomllib.loads(answer.text) == BODY


def test_body_is_encoded_once_at_compile_time_not_per_answer() -> None:
    responder = responder_for({"type": "json", "body": {"big": list(range(100))}})
    assert isinstance(responder, BodyResponder)
    first, second = responder.answer(view()).response, responder.answer(view()).response
    assert isinstance(first, web.Response)
    assert isinstance(second, web.Response)
    assert first is not second  # aiohttp responses are single-use
    assert first.body is responder.body
    assert second.body is responder.body
    assert msgspec.json.decode(responder.body) == {"big": list(range(100))}


async def test_static_response_is_journaled_with_its_status_and_type() -> None:
    kinds = ["json", "raw", "msgpack", "yaml", "toml"]
    async with serve(None) as srv, aiohttp.ClientSession() as session:
        for kind in kinds:
            await srv.register({"type": kind, "status": 299})
            async with session.get(srv.url) as resp:
                assert resp.status == 299
        journal = await srv.journal()
    assert journal == [
        {"status": 299, "type": kind, "delay_ms": 0.0, "error": None} for kind in kinds
    ]


def test_toml_null_is_rejected_at_compile_time_naming_the_key() -> None:
    with pytest.raises(ValueError, match=r"`body\.owner\.pet` is null.*TOML has no null"):
        responder_for({"type": "toml", "body": {"owner": {"pet": None}}})


def test_toml_null_inside_an_array_is_rejected_with_its_index() -> None:
    with pytest.raises(ValueError, match=r"`body\.xs\[1\]` is null"):
        responder_for({"type": "toml", "body": {"xs": [1, None]}})


def test_toml_integer_beyond_64_bits_is_rejected_at_compile_time() -> None:
    with pytest.raises(ValueError, match=r"`body\.n` = 18446744073709551616 does not fit"):
        responder_for({"type": "toml", "body": {"n": 2**64}})


def test_msgpack_integer_beyond_64_bits_is_rejected_at_compile_time() -> None:
    with pytest.raises(ValueError, match=r"msgpack body cannot be encoded as msgpack"):
        responder_for({"type": "msgpack", "body": {"n": 2**70}})


@pytest.mark.parametrize(
    ("kind", "struct"),
    [("json", wire.JsonResponse), ("msgpack", wire.MsgpackResponse), ("yaml", wire.YamlResponse)],
)
def test_body_of_an_unencodable_object_is_a_value_error(
    kind: str, struct: type[wire.JsonResponse | wire.MsgpackResponse | wire.YamlResponse]
) -> None:
    # Python callers can build specs msgspec never validated; compile still refuses them.
    spec = struct(body={"when": object()})
    with pytest.raises(ValueError, match=rf"the {kind} body cannot be encoded.*unsupported"):
        compile_response(spec)


def test_toml_body_that_is_not_a_table_is_a_value_error() -> None:
    spec = wire.TomlResponse(body=[1, 2])  # type: ignore[arg-type]  # msgspec skips this check
    with pytest.raises(ValueError, match="TOML documents are tables"):
        compile_response(spec)


def test_sequence_item_that_cannot_be_encoded_is_located_by_index() -> None:
    spec = {
        "type": "sequence",
        "responses": [{"type": "json"}, {"type": "toml", "body": {"a": None}}],
    }
    with pytest.raises(ResponseSpecError, match=r"^the toml body cannot be encoded") as caught:
        responder_for(spec)
    assert caught.value.at == ".responses[1].body"


async def test_handler_without_a_response_answers_500_naming_the_handler_and_the_fix() -> None:
    async with serve(None, handler="create_user") as srv, httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
        journal = await srv.journal()
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "no_response"
    assert "'create_user' has no registered response" in error["message"]
    assert "PUT /api/handlers/create_user/response" in error["message"]
    assert journal == [{"status": 500, "type": "json", "delay_ms": 0.0, "error": "no_response"}]


def test_no_response_outcome_for_a_session_points_at_that_sessions_admin_path() -> None:
    response = no_response_outcome("h", session="s1").response
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    body = msgspec.json.decode(response.body)
    assert "PUT /api/sessions/s1/handlers/h/response" in body["error"]["message"]
