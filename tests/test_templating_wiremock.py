"""WireMock's `response-template` transformer, registered with WireMock's own Python client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from wiremock.exceptions import InvalidInputException
from wiremock.resources.mappings import HttpMethods, Mapping, MappingRequest, MappingResponse
from wiremock.resources.mappings.resource import Mappings

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle


def test_a_templated_body_and_header_echo_the_request(wm: SessionHandle) -> None:
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method=HttpMethods.GET, url_path_pattern="/orders/[0-9]+"),
            response=MappingResponse(
                status=200,
                headers={"X-Order": "{{request.pathSegments.[1]}}"},
                body="order {{request.path.[1]}} for {{request.query.user}}",
                transformers=["response-template"],
            ),
        )
    )
    answer = requests.get(f"{wm.mock_url}/orders/12?user=ann", timeout=10)
    assert answer.status_code == 200
    assert answer.text == "order 12 for ann"
    assert answer.headers["X-Order"] == "12"


def test_a_templated_json_body_renders_each_string(wm: SessionHandle) -> None:
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method=HttpMethods.POST, url_path="/users"),
            response=MappingResponse(
                status=201,
                json_body={
                    "name": "{{jsonPath request.body '$.name'}}",
                    "size": "{{jsonPath request.body '$.size' default='M'}}",
                    "id": 7,
                },
                transformers=["response-template"],
            ),
        )
    )
    answer = requests.post(f"{wm.mock_url}/users", json={"name": "Ann"}, timeout=10)
    assert answer.status_code == 201
    assert answer.json() == {"name": "Ann", "size": "M", "id": 7}


def test_without_the_transformer_the_body_is_sent_as_written(wm: SessionHandle) -> None:
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method=HttpMethods.GET, url_path="/plain"),
            response=MappingResponse(status=200, body="{{request.path.[0]}}"),
        )
    )
    assert requests.get(f"{wm.mock_url}/plain", timeout=10).text == "{{request.path.[0]}}"


def test_another_transformer_is_refused_at_its_location(wm: SessionHandle) -> None:
    answer = requests.post(
        f"{wm.api}/__admin/mappings",
        json={
            "request": {"urlPath": "/x"},
            "response": {"body": "x", "transformers": ["response-template", "my-own"]},
        },
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/response/transformers/1"
    assert error["detail"] == (
        "unknown transformer 'my-own': controlplane serves 'response-template' "
        "(Handlebars response templating) only; any other transformer is a WireMock "
        "extension, Java code running inside WireMock, and controlplane runs no Java"
    )


def test_a_template_syntax_error_is_refused_by_the_client(wm: SessionHandle) -> None:
    with pytest.raises(InvalidInputException):
        Mappings.create_mapping(
            Mapping(
                request=MappingRequest(method=HttpMethods.GET, url_path="/bad"),
                response=MappingResponse(
                    status=200, body="{{#if x}}", transformers=["response-template"]
                ),
            )
        )


def test_a_syntax_error_in_a_json_body_points_into_json_body(wm: SessionHandle) -> None:
    answer = requests.post(
        f"{wm.api}/__admin/mappings",
        json={
            "request": {"urlPath": "/x"},
            "response": {"jsonBody": {"a": ["{{#if x}}"]}, "transformers": ["response-template"]},
        },
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/response/jsonBody/a/0"
    assert error["detail"] == "template syntax error: Unclosed block at line 1, column 10"


def test_a_mapping_file_with_a_templated_body_file(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "__files").mkdir()
    (tmp_path / "__files" / "greeting.txt").write_text("hello {{request.query.name}}\n")
    (tmp_path / "__files" / "binary.bin").write_bytes(b"\xff{{request.method}}")
    mappings = [
        ("/greet", "greeting.txt", ["response-template"]),
        ("/bin", "binary.bin", ["response-template"]),
        ("/plain", "greeting.txt", None),
    ]
    for index, (url, name, transformers) in enumerate(mappings):
        response = {"bodyFileName": name, "transformers": transformers}
        mapping = {"request": {"urlPath": url}, "response": response}
        (tmp_path / "mappings" / f"{index}.json").write_text(json.dumps(mapping))
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)) as server:
        assert requests.get(f"{server.mock_url}/greet?name=Ann", timeout=10).text == "hello Ann\n"
        # A body file that is not UTF-8 is sent as it is.
        assert requests.get(f"{server.mock_url}/bin", timeout=10).content == (
            b"\xff{{request.method}}"
        )
        assert requests.get(f"{server.mock_url}/plain?name=Ann", timeout=10).text == (
            "hello {{request.query.name}}\n"
        )
