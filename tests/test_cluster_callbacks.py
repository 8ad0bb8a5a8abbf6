"""`serve --state`: a callback held by one process answers the mock requests of all.

Two real processes on one real Redis, each on its own ports, so each test picks which
process holds the callback's WebSocket (A) and which takes the mock request (B).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from controlplane_client import CallbackRequest, CallbackResponse, Client, JsonResponse, Route

from tests.process import ServerProcess
from tests.redis_support import redis_server, redis_url
from tests.test_cluster_replication import processes

__all__ = ["redis_server", "redis_url"]


@pytest.fixture
def pair(tmp_path: Path, redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes sharing one state; route `POST /quote/{n}` of handler `quote`."""
    with processes(tmp_path, redis_url, 2) as (a, b):
        Client(a.admin_url).add_route(Route(method="POST", path="/quote/{n}", handler="quote"))
        yield a, b


def _post(server: ServerProcess, path: str = "/quote/7", **kwargs: Any) -> requests.Response:
    return requests.post(server.mock_url + path, timeout=30, **kwargs)


def _error(answer: requests.Response) -> tuple[int, str, str]:
    detail = answer.json()["error"]
    return answer.status_code, detail["code"], detail["message"]


def test_a_request_to_another_process_is_answered_by_the_callback(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    seen: list[CallbackRequest] = []

    def price(request: CallbackRequest) -> JsonResponse:
        seen.append(request)
        return JsonResponse({"n": request.path_params["n"], "got": request.json}, status=201)

    holder = Client(a.admin_url)
    with holder.on_request("quote", price):
        [handler] = Client(b.admin_url).handlers()
        assert isinstance(handler.response, CallbackResponse)
        answer = _post(b, "/quote/9?x=1", json={"qty": 2}, headers={"X-Id": "abc"})
        assert (answer.status_code, answer.json()) == (201, {"n": "9", "got": {"qty": 2}})
        assert _post(a, json=[]).json() == {"n": "7", "got": []}
    [forwarded, local] = seen
    assert (forwarded.method, forwarded.path, forwarded.query) == ("POST", "/quote/9", {"x": ["1"]})
    assert forwarded.header("x-id") == "abc"
    assert local.path == "/quote/7"
    journal = [(e.response.status, e.response.type) for e in holder.requests().requests]
    assert sorted(journal) == [(201, "callback"), (201, "callback")]


def test_errors_and_timeouts_reach_the_other_process_as_in_the_holder(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    holder = Client(a.admin_url)

    def broken(request: CallbackRequest) -> JsonResponse:
        raise ValueError("no price")

    with holder.on_request("quote", broken):
        assert _error(_post(b)) == (
            500,
            "callback_error",
            "the callback for handler 'quote' failed: ValueError: no price",
        )
    release = threading.Event()
    with holder.on_request(
        "quote", lambda r: release.wait(30) and JsonResponse("late"), timeout_ms=200
    ):
        try:
            answer = _post(b)
        finally:
            release.set()
    assert _error(answer) == (
        504,
        "callback_timeout",
        "the callback for handler 'quote' did not answer within 200 ms (its `timeout_ms`)",
    )


def test_closing_in_the_holder_gives_every_process_the_displaced_response_at_once(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    holder = Client(a.admin_url)
    holder.register("quote", JsonResponse("canned"))
    first = holder.on_request("quote", lambda r: JsonResponse("first"))
    second = holder.on_request("quote", lambda r: JsonResponse("second"))
    assert _post(b).json() == "second"
    second.close()
    assert _post(b).json() == "first"  # no wait: B asks, A says it closed
    first.close()
    assert _post(b).json() == "canned"


def test_a_reset_through_another_process_closes_the_callback(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    callback = Client(a.admin_url).on_request("quote", lambda r: JsonResponse(1))
    Client(b.admin_url).reset()
    callback._thread.join(10)
    assert (callback.closed, callback.close_code) == (True, 1001)
    Client(b.admin_url).add_route(Route(method="POST", path="/quote/{n}", handler="quote"))
    assert _error(_post(b))[:2] == (500, "no_response")


def test_when_the_holder_stops_the_others_answer_without_its_callback(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    Client(b.admin_url).register("quote", JsonResponse("canned"))
    callback = Client(a.admin_url).on_request("quote", lambda r: JsonResponse("called back"))
    assert _post(b).json() == "called back"
    assert a.stop() == 0
    callback._thread.join(10)
    assert callback.closed
    assert _post(b).json() == "canned"
