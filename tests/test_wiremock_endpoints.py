"""Dialect endpoints WireMock's Python client never calls, over plain HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from tests.conftest import SessionHandle
from tests.process import serve_process
from tests.streams_support import READ_TIMEOUT


def mapping(url: str, body: str, **extra: object) -> dict[str, object]:
    return {"request": {"method": "GET", "url": url}, "response": {"body": body}, **extra}


def test_import_with_duplicate_policy(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    first = mapping("/a", "one", id="00000000-0000-0000-0000-000000000001")
    assert requests.post(f"{admin}/mappings/import", json={"mappings": [first]}, timeout=5).ok
    changed = dict(first, response={"body": "two"})
    ignore = {"mappings": [changed], "importOptions": {"duplicatePolicy": "IGNORE"}}
    requests.post(f"{admin}/mappings/import", json=ignore, timeout=5)
    assert requests.get(f"{cp.mock_url}/a", timeout=5).text == "one"
    requests.post(f"{admin}/mappings/import", json={"mappings": [changed]}, timeout=5)
    assert requests.get(f"{cp.mock_url}/a", timeout=5).text == "two"
    only_b = {"mappings": [mapping("/b", "b")], "importOptions": {"deleteAllNotInImport": True}}
    requests.post(f"{admin}/mappings/import", json=only_b, timeout=5)
    listed = requests.get(f"{admin}/mappings", timeout=5).json()
    assert [m["request"]["url"] for m in listed["mappings"]] == ["/b"]


def test_failed_overwrite_import_changes_nothing(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    stub_id = "00000000-0000-0000-0000-0000000000aa"
    first = mapping("/a", "kept", id=stub_id)
    assert requests.post(f"{admin}/mappings/import", json={"mappings": [first]}, timeout=5).ok
    # The batch overwrites the stub, then names its id twice: the whole import fails.
    batch = [dict(first, response={"body": "new"}), mapping("/c", "c", id=stub_id)]
    failed = requests.post(f"{admin}/mappings/import", json={"mappings": batch}, timeout=5)
    assert failed.status_code == 409, failed.text
    assert requests.get(f"{cp.mock_url}/a", timeout=5).text == "kept"
    assert requests.get(f"{admin}/mappings", timeout=5).json()["meta"]["total"] == 1


def test_find_by_metadata_and_unmatched_mappings(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    requests.post(
        f"{admin}/mappings", json=mapping("/a", "a", metadata={"team": {"name": "x"}}), timeout=5
    )
    requests.post(
        f"{admin}/mappings", json=mapping("/b", "b", metadata={"team": {"name": "y"}}), timeout=5
    )
    pattern = {"matchesJsonPath": {"expression": "$.team.name", "equalTo": "x"}}
    found = requests.post(f"{admin}/mappings/find-by-metadata", json=pattern, timeout=5).json()
    assert [m["request"]["url"] for m in found["mappings"]] == ["/a"]
    requests.get(f"{cp.mock_url}/a", timeout=5)
    unmatched = requests.get(f"{admin}/mappings/unmatched", timeout=5).json()
    assert [m["request"]["url"] for m in unmatched["mappings"]] == ["/b"]
    requests.delete(f"{admin}/mappings/unmatched", timeout=5)
    assert requests.get(f"{admin}/mappings", timeout=5).json()["meta"]["total"] == 1


def test_remove_requests_by_pattern_and_by_id(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    before = datetime.now(UTC).isoformat()
    for path in ("/x", "/y", "/y"):
        requests.get(f"{cp.mock_url}{path}", timeout=5)
    removed = requests.post(f"{admin}/requests/remove", json={"url": "/y"}, timeout=5).json()
    assert len(removed["serveEvents"]) == 2
    events = requests.get(f"{admin}/requests", params={"since": before}, timeout=5).json()
    assert [e["request"]["url"] for e in events["requests"]] == ["/x"]
    assert events["requests"][0]["wasMatched"] is False
    one = events["requests"][0]["id"]
    assert requests.delete(f"{admin}/requests/{one}", timeout=5).ok
    assert requests.get(f"{admin}/requests/{one}", timeout=5).status_code == 404


@pytest.mark.single_process("a served process has someone to stop it: shutdown stops it, not 409")
def test_reset_health_version_and_shutdown_in_process(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    requests.post(f"{admin}/mappings", json=mapping("/a", "a"), timeout=5)
    requests.get(f"{cp.mock_url}/a", timeout=5)
    assert requests.post(f"{admin}/reset", timeout=5).ok
    assert requests.get(f"{admin}/mappings", timeout=5).json()["meta"]["total"] == 0
    assert requests.get(f"{admin}/requests", timeout=5).json()["meta"]["total"] == 0
    assert requests.get(f"{admin}/health", timeout=5).json()["status"] == "healthy"
    assert "version" in requests.get(f"{admin}/version", timeout=5).json()
    # In-process servers have nobody to stop them; the CLI does (see test_cli).
    assert requests.post(f"{admin}/shutdown", timeout=5).status_code == 409


def test_unknown_dialect_path_and_unknown_mapping_are_wiremock_errors(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    answer = requests.get(f"{admin}/nothing-here", timeout=5)
    assert answer.status_code == 404 and "errors" in answer.json()
    answer = requests.get(f"{admin}/mappings/nope", timeout=5)
    assert answer.status_code == 404 and "nope" in answer.json()["errors"][0]["detail"]


def _xml_refusal(cp: SessionHandle, **options: object) -> dict[str, object]:
    xml = {"equalToXml": "<a/>", **options}
    body = {"request": {"url": "/x", "bodyPatterns": [xml]}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=body, timeout=5)
    assert answer.status_code == 422, answer.text
    error: dict[str, object] = answer.json()["errors"][0]
    return error


def test_xml_options_the_native_comparison_cannot_honour_say_why(cp: SessionHandle) -> None:
    error = _xml_refusal(cp, namespaceAwareness="NONE")
    assert error["source"] == {"pointer": "/request/bodyPatterns/0/namespaceAwareness"}
    assert error["detail"] == (
        "namespaceAwareness NONE is not served: it compares names as written, prefixes "
        "included, with xmlns declarations as attributes; the native xml condition "
        "compares namespace URIs and local names (STRICT)"
    )
    error = _xml_refusal(cp, exemptedComparisons=["XML_VERSION", "NAMESPACE_URI"])
    assert error["source"] == {"pointer": "/request/bodyPatterns/0/exemptedComparisons/1"}
    assert error["detail"] == (
        "exempting NAMESPACE_URI is not served: the native xml comparison always makes it; "
        "exemptable (never compared): ATTR_VALUE_EXPLICITLY_SPECIFIED, NAMESPACE_PREFIX, "
        "PROCESSING_INSTRUCTION_DATA, PROCESSING_INSTRUCTION_TARGET, XML_ENCODING, "
        "XML_STANDALONE, XML_VERSION"
    )
    error = _xml_refusal(cp, placeholderOpeningDelimiterRegex="\\[\\[")
    assert error["source"] == {
        "pointer": "/request/bodyPatterns/0/placeholderOpeningDelimiterRegex"
    }
    assert str(error["detail"]).startswith("custom placeholder delimiters are not served")
    error = _xml_refusal(cp, equalToXml=None, equalTo="x", namespaceAwareness="STRICT")
    assert error["source"] == {"pointer": "/request/bodyPatterns/0/namespaceAwareness"}


def test_strict_namespaces_and_never_compared_exemptions_are_the_native_xml(
    cp: SessionHandle,
) -> None:
    pattern = {
        "equalToXml": '<a xmlns="urn:x"><b>1</b></a>',
        "namespaceAwareness": "STRICT",
        "exemptedComparisons": ["NAMESPACE_PREFIX", "XML_VERSION"],
    }
    body = {"request": {"method": "POST", "url": "/xml", "bodyPatterns": [pattern]}}
    created = requests.post(f"{cp.api}/__admin/mappings", json=body, timeout=5)
    assert created.status_code == 201, created.text
    assert created.json()["request"]["bodyPatterns"] == [pattern]
    same = '<?xml version="1.1"?><p:a xmlns:p="urn:x"><p:b>1</p:b></p:a>'
    assert requests.post(f"{cp.mock_url}/xml", data=same, timeout=5).status_code == 200
    other_ns = '<a xmlns="urn:y"><b>1</b></a>'
    assert requests.post(f"{cp.mock_url}/xml", data=other_ns, timeout=5).status_code == 404


def test_dialect_and_native_routes_interleave(cp: SessionHandle) -> None:
    """Within a priority, dialect stubs (newest first) come before native routes."""
    cp.add_route(
        method="GET", path="/same", handler="native", response={"type": "raw", "body": "native"}
    )
    requests.post(f"{cp.api}/__admin/mappings", json=mapping("/same", "stub"), timeout=5)
    assert requests.get(f"{cp.mock_url}/same", timeout=5).text == "stub"
    routes = requests.get(f"{cp.api}/routes", timeout=5).json()["routes"]
    assert {r["handler"].split("-")[0] for r in routes} == {"native", "wiremock"}
    # The native API sees the stub as a route; removing it there removes the stub.
    stub = next(r for r in routes if r["handler"].startswith("wiremock-"))
    requests.delete(f"{cp.api}/routes/{stub['id']}", timeout=5)
    assert requests.get(f"{cp.api}/__admin/mappings", timeout=5).json()["meta"]["total"] == 0
    assert requests.get(f"{cp.mock_url}/same", timeout=5).text == "native"


def test_fixed_delay_and_distribution_together_are_refused(cp: SessionHandle) -> None:
    response = {
        "fixedDelayMilliseconds": 5,
        "delayDistribution": {"type": "uniform", "lower": 1, "upper": 2},
    }
    answer = requests.post(
        f"{cp.api}/__admin/mappings",
        json={"request": {"url": "/x"}, "response": response},
        timeout=5,
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["source"]["pointer"] == "/response/delayDistribution"


def test_shutdown_stops_the_cli_server(tmp_path: Path) -> None:
    with serve_process(tmp_path) as server:
        assert requests.post(f"{server.admin_url}/__admin/shutdown", timeout=5).status_code == 200
        assert server.proc.wait(10) == 0


def test_legacy_edit_replaces_the_stub_its_body_names(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    stub_id = "00000000-0000-0000-0000-0000000000ed"
    requests.post(f"{admin}/mappings", json=mapping("/e", "old", id=stub_id), timeout=5)
    requests.post(f"{admin}/mappings", json=mapping("/other", "other"), timeout=5)
    edited = requests.post(
        f"{admin}/mappings/edit", json=mapping("/e", "new", uuid=stub_id), timeout=5
    )
    assert (edited.status_code, edited.content) == (204, b"")
    assert requests.get(f"{cp.mock_url}/e", timeout=5).text == "new"
    listed = requests.get(f"{admin}/mappings", timeout=5).json()
    assert listed["meta"]["total"] == 2
    assert requests.get(f"{admin}/mappings/{stub_id}", timeout=5).json()["response"] == {
        "body": "new"
    }

    unknown = requests.post(
        f"{admin}/mappings/edit", json=mapping("/e", "x", id="no-such-stub"), timeout=5
    )
    assert unknown.status_code == 404
    assert "no stub mapping 'no-such-stub'" in unknown.json()["errors"][0]["detail"]
    nameless = requests.post(f"{admin}/mappings/edit", json=mapping("/e", "x"), timeout=5)
    assert nameless.status_code == 422
    [error] = nameless.json()["errors"]
    assert error["source"]["pointer"] == "/id"
    assert error["detail"] == "give the `id` (or `uuid`) of the stub this mapping replaces"
    both = mapping("/e", "x", id=stub_id, uuid="00000000-0000-0000-0000-000000000000")
    clash = requests.post(f"{admin}/mappings/edit", json=both, timeout=5)
    assert clash.status_code == 422
    assert clash.json()["errors"][0]["source"]["pointer"] == "/uuid"
    assert requests.get(f"{cp.mock_url}/e", timeout=5).text == "new"


def test_settings_are_taken_bare_or_wrapped_as_get_answers_them(cp: SessionHandle) -> None:
    admin = cp.api + "/__admin"
    bare = requests.post(f"{admin}/settings", json={"fixedDelay": 3}, timeout=5)
    assert (bare.status_code, bare.json()) == (200, {"fixedDelay": 3})
    wrapped = {"settings": {"fixedDelay": 4, "extended": {"k": "v"}}}
    answer = requests.post(f"{admin}/settings", json=wrapped, timeout=5)
    assert (answer.status_code, answer.json()) == (200, wrapped["settings"])
    assert requests.get(f"{admin}/settings", timeout=5).json() == wrapped
    # A GET's answer posted back changes nothing.
    round_trip = requests.get(f"{admin}/settings", timeout=5).json()
    assert requests.put(f"{admin}/settings", json=round_trip, timeout=5).ok
    assert requests.get(f"{admin}/settings", timeout=5).json() == wrapped
    bad = requests.post(f"{admin}/settings", json={"settings": {"fixedDelay": "x"}}, timeout=5)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["source"]["pointer"] == "/settings/fixedDelay"
    mixed = requests.post(f"{admin}/settings", json={"settings": {}, "fixedDelay": 1}, timeout=5)
    assert mixed.status_code == 422
    assert mixed.json()["errors"][0]["source"]["pointer"] == "/settings"


async def _callback_closed_by(
    cp: SessionHandle, reset: str, stub: str
) -> tuple[aiohttp.WSMessage, Any]:
    """Open callbacks for stub `stub`'s handler and for a native route's, POST `reset`;
    the frame the stub's callback gets next, and the native handler's response then."""
    admin = cp.api + "/__admin"
    cp.add_route(method="GET", path=f"/native-{stub}", handler=f"native-{stub}")
    async with aiohttp.ClientSession() as client:
        body = mapping("/cb", "stub", id=stub)
        async with client.post(f"{admin}/mappings", json=body) as created:
            assert created.status == 201
        native = await client.ws_connect(f"{cp.api}/handlers/native-{stub}/callback")
        await asyncio.wait_for(native.receive(), READ_TIMEOUT)  # the registration
        async with client.ws_connect(f"{cp.api}/handlers/wiremock-{stub}/callback") as ws:
            await asyncio.wait_for(ws.receive(), READ_TIMEOUT)
            async with client.post(f"{admin}{reset}") as answer:
                assert answer.status == 200
            closing = await asyncio.wait_for(ws.receive(), READ_TIMEOUT)
        async with client.get(f"{cp.api}/handlers") as listed:
            handlers = {h["name"]: h["response"] for h in (await listed.json())["handlers"]}
        await native.close()
        return closing, handlers.get(f"native-{stub}")


async def test_dialect_resets_close_the_sessions_callbacks(cp: SessionHandle) -> None:
    closing, native = await _callback_closed_by(cp, "/reset", "cb-reset")
    assert (closing.type, closing.data, closing.extra) == (
        aiohttp.WSMsgType.CLOSE,
        1001,
        "session reset",
    )
    assert native is None  # the whole session went, its native routes too
    closing, native = await _callback_closed_by(cp, "/mappings/reset", "cb-mappings")
    assert (closing.type, closing.data, closing.extra) == (
        aiohttp.WSMsgType.CLOSE,
        1001,
        "mappings reset",
    )
    # Only the stubs' callbacks close: the native route's still answers.
    assert native == {"type": "callback", "timeout_ms": 5000}
