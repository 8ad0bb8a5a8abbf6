"""The Python client against a real server: every admin operation, sync and async,
errors, and asyncly-style assertions with their failure messages."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
import requests
from controlplane_client import (
    AsyncClient,
    Client,
    Conflict,
    Fault,
    InvalidInput,
    JsonResponse,
    LatencyResponse,
    Match,
    NotFound,
    RawResponse,
    Route,
    Scenario,
    SequenceResponse,
    ServerUnavailable,
    Settings,
    SseEvent,
    SseResponse,
    absent,
    check_called,
    contains,
    fixed_delay,
)
from controlplane_client._ops import Ops

from controlplane.pytest_plugin import ServerInfo

FACT = Route(method="GET", path="/fact", handler="fact", response=JsonResponse({"fact": "Meow."}))


def test_sessions_are_created_listed_and_deleted(controlplane_server: ServerInfo) -> None:
    client = Client(controlplane_server.admin_url)
    assert client.health().status == "ok"
    session = client.create_session("mine", id="client-test-1")
    assert session.session_id == "client-test-1" and session.info.name == "mine"
    assert session.mock_url.endswith("/_s/client-test-1")
    assert "client-test-1" in [s.id for s in client.sessions()]
    with pytest.raises(Conflict):
        client.create_session(id="client-test-1")
    session.delete_session()
    with pytest.raises(NotFound, match="client-test-1"):
        session.get_session()


def test_routes_can_be_added_read_replaced_and_removed(controlplane: Client) -> None:
    route = controlplane.add_route(FACT)
    assert route.id and route.handler == "fact"
    assert controlplane.get_route(route.id) == route
    other = Route(method="GET", path="/other", handler="fact")
    replaced = controlplane.replace_route(route.id, other)
    assert replaced.path == "/other" and controlplane.routes() == [replaced]
    controlplane.delete_route(route.id)
    assert controlplane.routes() == []
    controlplane.add_routes(FACT, other)
    controlplane.delete_routes()
    assert controlplane.handlers() == []


def test_bad_input_raises_with_the_servers_location(controlplane: Client) -> None:
    with pytest.raises(InvalidInput) as caught:
        controlplane.add_route(Route(method="GET", path="/x", handler="h", priority=5, times=0))
    assert caught.value.location == "$.times"
    with pytest.raises(NotFound, match="nope"):
        controlplane.register("nope", JsonResponse(1))


def test_handlers_calls_requests_and_verify(controlplane: Client) -> None:
    controlplane.add_route(FACT)
    mock = controlplane.mock_url
    assert requests.get(f"{mock}/fact?lang=en", timeout=10).json() == {"fact": "Meow."}
    [handler] = controlplane.handlers()
    assert (handler.name, handler.calls) == ("fact", 1)
    call = controlplane.last_call("fact")
    assert (call.method, call.path, call.query, call.handler) == (
        "GET",
        "/fact",
        {"lang": ["en"]},
        "fact",
    )
    assert call.response.status == 200 and call.header("user-agent")
    assert controlplane.verify("fact", times=1, query={"lang": "en"}).ok
    result = controlplane.verify("fact", query={"lang": "fr"})
    assert not result.ok and "lang" in (result.message or "")
    with pytest.raises(AssertionError, match="lang"):
        controlplane.assert_verified("fact", query={"lang": "fr"})
    assert [r.path for r in controlplane.requests(matched=True).requests] == ["/fact"]
    controlplane.clear_requests()
    assert controlplane.requests().requests == []
    controlplane.reset()
    assert controlplane.routes() == []


def test_builders_drive_the_mock_port(controlplane: Client) -> None:
    controlplane.add_routes(
        Route(
            method="GET",
            path="/seq",
            handler="seq",
            response=SequenceResponse([JsonResponse(1), RawResponse("two")], on_exhausted="last"),
        ),
        Route(
            method="GET",
            path="/slow",
            handler="slow",
            response=LatencyResponse(JsonResponse("z"), 0.05),
        ),
        Route(
            method="GET",
            path="/q",
            handler="q",
            match=Match(query={"a": absent(), "b": contains("x")}),
            response=JsonResponse("q"),
        ),
        Route(method="GET", path="/broken", handler="broken", response=Fault("disconnect")),
    )
    mock = controlplane.mock_url
    assert [requests.get(f"{mock}/seq", timeout=10).text for _ in range(3)] == ["1", "two", "two"]
    assert requests.get(f"{mock}/slow", timeout=10).json() == "z"
    assert controlplane.last_call("slow").response.delay_ms == 50
    assert requests.get(f"{mock}/q?b=xyz", timeout=10).json() == "q"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{mock}/broken", timeout=10)


def test_assert_called_follows_asyncly(controlplane: Client) -> None:
    controlplane.add_route(
        Route(method="POST", path="/orders", handler="order", response=JsonResponse(1))
    )
    mock = controlplane.mock_url
    requests.post(
        f"{mock}/orders?src=web", json={"sku": "a"}, headers={"X-Tenant": "t1"}, timeout=10
    )
    requests.post(f"{mock}/orders", json={"sku": "b"}, timeout=10)
    # times counts every call; the predicates need one call that meets them all.
    controlplane.assert_called("order", times=2, json={"sku": "a"}, headers={"x-tenant": "t1"})
    controlplane.assert_called("order", query={"src": "web"}, body=b'{"sku": "a"}')
    with pytest.raises(AssertionError) as caught:
        controlplane.assert_called("order", json={"sku": "c"}, headers={"X-Tenant": "t1"})
    message = str(caught.value)
    assert "expected handler 'order' to be called with json" in message
    assert '-   "sku": "c"' in message and '+   "sku": "a"' in message
    assert "header X-Tenant" in message and "<absent>" in message
    with pytest.raises(AssertionError, match="called once, but it was called 2 times"):
        controlplane.assert_called("order", times=1)
    with pytest.raises(AssertionError, match="not to be called"):
        controlplane.assert_not_called("order")
    controlplane.add_route(Route(method="GET", path="/never", handler="never"))
    controlplane.assert_not_called("never")
    controlplane.assert_called("never", times=0)
    with pytest.raises(AssertionError, match="never called"):
        controlplane.last_call("never")


def test_unreachable_server_is_named() -> None:
    with pytest.raises(ServerUnavailable, match="is the server running"):
        Client("http://127.0.0.1:9", timeout=2).health()


async def test_async_client_covers_the_same_api(controlplane_server: ServerInfo) -> None:
    async with AsyncClient(controlplane_server.admin_url) as client:
        assert (await client.health()).status == "ok"
        session = await client.create_session()
        try:
            await session.add_route(FACT)
            await session.register("fact", JsonResponse({"fact": "Purr."}))
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"{session.mock_url}/fact")
                assert answer.json() == {"fact": "Purr."}
            await session.assert_called("fact", times=1)
            assert (await session.last_call("fact")).path == "/fact"
            assert (await session.verify("fact", times=1)).ok
            assert len((await session.requests()).requests) == 1
            assert (await session.unmatched()).requests == []
            with pytest.raises(AssertionError):
                await session.assert_not_called("fact")
        finally:
            await session.delete_session()


def test_sync_client_needs_only_the_standard_library() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import controlplane_client

    src = Path(controlplane_client.__file__).resolve().parent.parent
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import controlplane_client;"
        "c = controlplane_client.Client('http://127.0.0.1:9');"
        "extra = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
        " - {'controlplane_client', '__main__'});"
        "print(extra); sys.exit(1 if extra else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(src)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _login_flow(client: Client) -> None:
    client.add_routes(
        Route(method="POST", path="/login", handler="login",
              scenario=Scenario(name="auth", new_state="in"),
              response=JsonResponse({"logged_in": True})),
        Route(method="GET", path="/me", handler="me",
              scenario=Scenario(name="auth", required_state="in"),
              response=JsonResponse({"me": "cat"})),
    )  # fmt: skip


@pytest.mark.controlplane_allow_unmatched  # /me before the login state: a 404 on purpose
def test_scenarios_and_settings_are_read_and_set(controlplane: Client) -> None:
    _login_flow(controlplane)
    [auth] = controlplane.scenarios()
    assert (auth.name, auth.state) == ("auth", "Started")
    assert requests.get(f"{controlplane.mock_url}/me", timeout=5).status_code == 404
    assert controlplane.set_scenario_state("auth", "in").state == "in"
    assert requests.get(f"{controlplane.mock_url}/me", timeout=5).json() == {"me": "cat"}
    controlplane.reset_scenarios()
    assert controlplane.scenarios()[0].state == "Started"
    with pytest.raises(NotFound, match="nope"):
        controlplane.set_scenario_state("nope", "x")

    assert controlplane.settings() == Settings()
    delayed = Settings(delay=fixed_delay(50))
    assert controlplane.update_settings(delayed) == delayed
    assert controlplane.settings() == delayed
    answer = requests.post(f"{controlplane.mock_url}/login", timeout=5)
    assert answer.json() == {"logged_in": True}
    assert controlplane.get_calls("login")[0].response.delay_ms >= 50


async def test_async_client_reads_and_sets_scenarios(controlplane: Client) -> None:
    _login_flow(controlplane)
    async with AsyncClient(controlplane.admin_url, session=controlplane.session_id) as client:
        assert [s.state for s in await client.scenarios()] == ["Started"]
        assert (await client.set_scenario_state("auth", "in")).state == "in"
        await client.reset_scenarios()
        assert (await client.scenarios())[0].state == "Started"
        assert await client.update_settings(Settings()) == await client.settings()


def test_calls_iterate_count_and_index_like_a_list(controlplane: Client) -> None:
    controlplane.add_route(FACT)
    none = controlplane.calls("fact")
    assert (len(none), list(none), none.calls, none.evicted) == (0, [], [], 0)
    for n in range(3):
        requests.get(f"{controlplane.mock_url}/fact?n={n}", timeout=10)
    calls = controlplane.calls("fact")
    assert [call.query for call in calls] == [{"n": ["0"]}, {"n": ["1"]}, {"n": ["2"]}]
    assert len(calls) == 3 and calls[-1] == calls.calls[-1] and calls.evicted == 0


TAGS = Route(method="GET", path="/tags", handler="tags", response=JsonResponse(1))


def test_assert_called_takes_the_query_shape_of_a_recorded_call(controlplane: Client) -> None:
    controlplane.add_route(TAGS)
    requests.get(f"{controlplane.mock_url}/tags?tag=b&tag=a&tag=c", timeout=10)
    call = controlplane.last_call("tags")
    assert call.query == {"tag": ["b", "a", "c"]}
    controlplane.assert_called("tags", query=call.query)
    controlplane.assert_called("tags", query={"tag": ["c", "a"]})  # each given value is there
    controlplane.assert_called("tags", query={"tag": ["a"]})
    controlplane.assert_called("tags", query={"tag": "a"})  # a string: one value
    with pytest.raises(AssertionError) as caught:
        controlplane.assert_called("tags", query={"tag": ["a", "d"]})
    assert str(caught.value) == "\n".join(
        [
            "expected handler 'tags' to be called with query {'tag': ['a', 'd']}, "
            "but none of its 1 call(s) matched.",
            "Closest calls (- expected, + actual):",
            "  #1 GET /tags?tag=b&tag=a&tag=c -> 200",
            "    query tag:",
            "        [",
            '      +   "b",',
            '          "a",',
            '      -   "d"',
            '      +   "c"',
            "        ]",
        ]
    )
    with pytest.raises(AssertionError) as caught:
        controlplane.assert_called("tags", query={"other": "x"})
    assert str(caught.value).splitlines()[-3:] == [
        "    query other:",
        "      - 'x'",
        "      + <absent>",
    ]
    with pytest.raises(ValueError) as refused:
        controlplane.assert_called("tags", query={"tag": []})
    assert str(refused.value) == (
        "query 'tag': give at least one value (an empty list would hold for every call)"
    )
    with pytest.raises(ValueError, match="query 'tag': give at least one value"):
        check_called("tags", [], query={"tag": []})  # refused before any call is looked at


def test_verify_takes_the_same_query_shape_one_value_per_name(controlplane: Client) -> None:
    controlplane.add_route(TAGS)
    requests.get(f"{controlplane.mock_url}/tags?tag=b&tag=a", timeout=10)
    assert controlplane.verify("tags", times=1, query={"tag": ["a"]}).ok
    assert controlplane.verify("tags", times=1, query={"tag": "b"}).ok
    assert not controlplane.verify("tags", query={"tag": ["c"]}).ok
    with pytest.raises(ValueError) as refused:
        controlplane.verify("tags", query={"tag": ["a", "b"]})
    assert str(refused.value) == (
        "verify: the server matches one value per query parameter, and 'tag' has 2; "
        "assert_called(query=...) checks several on one call"
    )


async def test_async_calls_and_query_shape_match_the_sync_client(
    controlplane_server: ServerInfo,
) -> None:
    async with AsyncClient(controlplane_server.admin_url) as client:
        session = await client.create_session()
        try:
            await session.add_route(TAGS)
            async with httpx.AsyncClient() as http:
                await http.get(f"{session.mock_url}/tags?tag=b&tag=a")
            calls = await session.calls("tags")
            assert len(calls) == 1 and [call.query for call in calls] == [{"tag": ["b", "a"]}]
            await session.assert_called("tags", times=1, query={"tag": ["a", "b"]})
            assert (await session.verify("tags", query={"tag": ["a"]})).ok
            with pytest.raises(AssertionError, match="query tag"):
                await session.assert_called("tags", query={"tag": ["z"]})
        finally:
            await session.delete_session()


def test_verify_sends_every_predicate_it_is_given_and_json_null(controlplane: Client) -> None:
    controlplane.add_route(Route(method="POST", path="/save", handler="save"))
    headers = {"X-Tenant": "a", "Content-Type": "application/json"}
    requests.post(f"{controlplane.mock_url}/save?v=1", data="null", headers=headers, timeout=10)
    requests.post(f"{controlplane.mock_url}/save", data='{"n":1}', headers=headers, timeout=10)
    assert controlplane.verify("save", at_least=2, at_most=2).count == 2
    null = controlplane.verify("save", json=None, times=1, headers={"x-tenant": "a"})
    assert (null.ok, null.count) == (True, 1)
    assert controlplane.verify("save", body='{"n":1}', query={"v": "1"}).count == 0
    assert controlplane.verify("save", body="null", query={"v": "1"}).count == 1
    assert not controlplane.verify("save", at_most=1).ok
    filtered = controlplane.requests(handler="save", method="POST", path="/save", limit=1)
    assert [r.body for r in filtered.requests] == ['{"n":1}']
    assert controlplane.requests(matched=False).requests == []


def test_a_bound_session_keeps_the_clients_settings_and_learns_its_description(
    controlplane_server: ServerInfo,
) -> None:
    client = Client(controlplane_server.admin_url + "/", token="t", timeout=3)
    created = client.create_session(id="client-test-bound")
    try:
        bound = client.session("client-test-bound")
        assert (type(bound), bound.admin_url, bound.token, bound.timeout) == (
            Client,
            controlplane_server.admin_url,
            "t",
            3,
        )
        assert (
            repr(bound)
            == f"Client('{controlplane_server.admin_url}', session='{created.session_id}')"
        )
        assert client.session_id == "default" and bound.mock_url == created.mock_url
        assert bound.get_session("default").id == "default"
        assert bound.info.id == "client-test-bound"  # a named session is not remembered
    finally:
        created.delete_session()


async def test_async_session_learns_its_mock_url_from_get_session(
    controlplane: Client,
) -> None:
    async with AsyncClient(controlplane.admin_url, session=controlplane.session_id) as client:
        with pytest.raises(RuntimeError) as unknown:
            client.mock_url  # noqa: B018 - the property raises
        assert str(unknown.value) == (
            "call `await client.get_session()` first: the URL is not known yet"
        )
        assert repr(client) == (
            f"AsyncClient({controlplane.admin_url!r}, session={controlplane.session_id!r})"
        )
        await client.get_session("default")
        with pytest.raises(RuntimeError):
            client.mock_url  # noqa: B018 - another session's description is not this one's
        assert (await client.get_session()).mock_url == controlplane.mock_url
        assert client.mock_url == controlplane.mock_url
        bound = client.session("default")
        assert type(bound) is AsyncClient and (await bound.health()).status == "ok"


def _five_requests(controlplane: Client) -> None:
    controlplane.add_route(
        Route(method="GET", path="/page/{n}", handler="page", response=JsonResponse({}))
    )
    for index in range(5):
        requests.get(f"{controlplane.mock_url}/page/{index}", timeout=10)


def test_journal_pages_are_followed_to_the_last(controlplane: Client) -> None:
    _five_requests(controlplane)
    # Two entries a page: the client follows `next` and joins the three pages.
    paged = Ops(controlplane.session_id).requests(after=0, limit=2)
    listed = controlplane._run(paged)
    assert [r.path for r in listed.requests] == [f"/page/{i}" for i in range(5)]
    assert listed.next is None
    # Without paging, `limit` alone is the newest N, one page.
    newest = controlplane.requests(limit=2).requests
    assert [r.path for r in newest] == ["/page/3", "/page/4"]


async def test_async_client_follows_journal_pages_too(controlplane: Client) -> None:
    _five_requests(controlplane)
    async with AsyncClient(controlplane.admin_url, session=controlplane.session_id) as client:
        listed = await client._run(Ops(controlplane.session_id).requests(after=1, limit=3))
    assert [r.path for r in listed.requests] == [f"/page/{i}" for i in range(1, 5)]


def test_a_handlers_frame_pages_are_followed_to_the_last(controlplane: Client) -> None:
    controlplane.add_route(
        Route(method="GET", path="/feed", handler="feed", response=SseResponse(keep_open=True))
    )
    with requests.get(f"{controlplane.mock_url}/feed", stream=True, timeout=10) as stream:
        assert stream.status_code == 200  # the headers came: the stream is open
        for index in range(5):
            assert controlplane.push_event("feed", SseEvent(data=str(index))) == 1
        # Two frames a page: the client follows `next` and joins the three pages.
        op = Ops(controlplane.session_id).messages("feed")
        listed = controlplane._run(replace(op, query={"after": "0", "limit": "2"}))
    assert [frame.text for frame in listed.messages] == [str(i) for i in range(5)]
    assert listed.next is None


def test_a_page_without_next_is_the_last() -> None:
    op = Ops("default").calls("h")
    assert op.next_page({"calls": [], "next": None, "evicted": 0}) is None
    following = op.next_page({"calls": [1], "next": 7, "evicted": 0})
    assert following is not None and following.query == {"after": "7"}
    joined = op.joined({"calls": [1], "next": 7}, {"calls": [2], "next": None, "evicted": 3})
    assert joined == {"calls": [1, 2], "next": None, "evicted": 3}
    assert Ops("default").health().next_page({"next": 1}) is None
