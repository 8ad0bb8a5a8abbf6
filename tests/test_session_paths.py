"""The `/_s/{id}` prefix on the mock port: which session a path names and the path its
routes see, kept per path (`SessionStore.split_paths`) only while the session lives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from controlplane.sessions import _SPLIT_PATHS, SessionStore
from tests.conftest import ThreadedServer


@pytest.fixture
def named(cp_server: ThreadedServer) -> Iterator[str]:
    """The sessions API; `paths-1` is deleted after the test whatever happened."""
    api = f"{cp_server.admin_url}/api/sessions"
    yield api
    requests.delete(f"{api}/paths-1", timeout=10)


def _create(api: str, version: int, path: str = "/a") -> str:
    session = requests.post(api, json={"id": "paths-1"}, timeout=10).json()
    route = {
        "method": "GET",
        "path": path,
        "handler": "a",
        "response": {"type": "json", "body": {"version": version}},
    }
    answer = requests.post(f"{session['admin_url']}/routes", json=route, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(session["mock_url"])


def test_a_session_made_again_with_the_same_id_answers_with_its_own_routes(named: str) -> None:
    mock_url = _create(named, 1)
    assert requests.get(f"{mock_url}/a", timeout=10).json() == {"version": 1}
    assert requests.delete(f"{named}/paths-1", timeout=10).status_code == 204
    gone = requests.get(f"{mock_url}/a", timeout=10)
    assert (gone.status_code, gone.json()["session"]) == (404, "paths-1")
    assert _create(named, 2) == mock_url
    assert requests.get(f"{mock_url}/a", timeout=10).json() == {"version": 2}
    journal = requests.get(f"{named}/paths-1/requests", timeout=10).json()
    assert [entry["path"] for entry in journal["requests"]] == ["/a"]


@pytest.mark.parametrize("tail", ["", "/"])
def test_the_prefix_alone_is_the_sessions_root(named: str, tail: str) -> None:
    mock_url = _create(named, 1, path="/")
    assert requests.get(f"{mock_url}{tail}", timeout=10).json() == {"version": 1}


def test_the_rest_of_the_path_is_kept_whole(named: str) -> None:
    mock_url = _create(named, 1, path="/a/b//c")
    assert requests.get(f"{mock_url}/a/b//c", timeout=10).json() == {"version": 1}
    journal = requests.get(f"{named}/paths-1/requests", timeout=10).json()
    assert [entry["path"] for entry in journal["requests"]] == ["/a/b//c"]


def test_an_unknown_session_in_the_path_is_a_404_naming_it(cp_server: ThreadedServer) -> None:
    for _ in range(2):  # the second time too: a miss is not kept
        answer = requests.get(f"{cp_server.mock_url}/_s/no-such-one/a", timeout=10)
        assert answer.status_code == 404
        assert answer.json()["session"] == "no-such-one"


def test_kept_paths_start_again_when_full_and_unknown_sessions_are_not_kept() -> None:
    store = SessionStore(10)
    state = store.create(session_id="s")
    for number in range(_SPLIT_PATHS):
        assert store.split(f"/_s/s/{number}") == (state, "s", f"/{number}")
    assert len(store.split_paths) == _SPLIT_PATHS
    assert store.split("/_s/s/more") == (state, "s", "/more")
    assert store.split_paths == {"/_s/s/more": (state, "s", "/more")}
    assert store.split("/_s/t/x") == (None, "t", "/x")
    assert store.split("/_s/t") == (None, "t", "/")
    assert list(store.split_paths) == ["/_s/s/more"]
    store.delete("s")
    assert store.split_paths == {}


def test_a_kept_path_never_answers_a_target_that_only_reads_like_it(named: str) -> None:
    # `/a%3Fx` is the path `/a?x`; the target `/a?x` is the path `/a` with a query. The
    # mock port looks raw targets up among the kept paths first: a path holding '%', '?'
    # or '#' is never kept, so the second request is not taken for the first.
    mock_url = _create(named, 1)
    session = requests.get(f"{named}/paths-1", timeout=10).json()
    route = {"method": "GET", "path": "/a?x", "handler": "b"}
    route["response"] = {"type": "json", "body": {"version": 2}}
    assert requests.post(f"{session['admin_url']}/routes", json=route, timeout=10).ok
    for _ in range(2):  # the second time too: nothing kept from the first answers it
        assert requests.get(f"{mock_url}/a%3Fx", timeout=10).json() == {"version": 2}
        assert requests.get(f"{mock_url}/a?x", timeout=10).json() == {"version": 1}
    journal = requests.get(f"{named}/paths-1/requests", timeout=10).json()["requests"]
    assert [(entry["path"], entry["query"]) for entry in journal] == [
        ("/a?x", {}),
        ("/a", {"x": [""]}),
    ] * 2


def test_a_kept_path_is_looked_up_before_the_query_is_cut_off(named: str) -> None:
    mock_url = _create(named, 1)
    for suffix in ("", "?x=1", "", "?x=2"):
        assert requests.get(f"{mock_url}/a{suffix}", timeout=10).json() == {"version": 1}
    journal = requests.get(f"{named}/paths-1/requests", timeout=10).json()["requests"]
    assert [(e["path"], e["query"]) for e in journal] == [
        ("/a", {}),
        ("/a", {"x": ["1"]}),
        ("/a", {}),
        ("/a", {"x": ["2"]}),
    ]
