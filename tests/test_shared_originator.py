"""`serve --state`: an admin write's Redis side (a journal cleared, `times` started over)
runs once, in the process whose client sent it, not in every process applying it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import requests

from tests.process import serve_process
from tests.redis_support import redis_server, redis_url
from tests.shared_support import prepare, serve_many

__all__ = ["redis_server", "redis_url"]

LIMITED = {
    "id": "limited",
    "method": "GET",
    "path": "/x",
    "handler": "limited",
    "times": 2,
    "priority": 1,
    "response": {"type": "raw", "body": "limited"},
}
FALLBACK = {
    "id": "fallback",
    "method": "GET",
    "path": "/x",
    "handler": "fallback",
    "response": {"type": "raw", "body": "fallback"},
}
HELLO = {
    "id": "hello",
    "method": "GET",
    "path": "/hello/{n}",
    "handler": "hello",
    "response": {"type": "raw", "body": "hi"},
}


def _bodies(urls: list[str], path: str) -> Counter[str]:
    return Counter(requests.get(f"{url}{path}", timeout=10).text for url in urls)


def test_a_process_started_later_replays_admin_writes_without_resetting_redis(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_many(tmp_path, redis_url, 2) as (a, b):
        a_url, b_url = prepare([a, b], "s1", [LIMITED, FALLBACK, HELLO])
        assert requests.get(f"{b_url}/x", timeout=10).text == "limited"
        cleared = requests.delete(f"{a.admin_url}/api/sessions/s1/requests", timeout=10)
        assert cleared.status_code == 204
        assert requests.get(f"{b_url}/hello/after", timeout=10).status_code == 200
        # C replays the log: the session, its routes (times: 2), the clear. Run there
        # again, their Redis side would give `limited` its 2 back and delete the entry.
        with serve_process(
            tmp_path, "--state", redis_url, ready_file=tmp_path / "ready-c.json"
        ) as c:
            c_url = requests.get(f"{c.admin_url}/api/sessions/s1", timeout=10).json()["mock_url"]
            listed = requests.get(f"{c.admin_url}/api/sessions/s1/requests", timeout=10).json()
            assert [(r["seq"], r["path"]) for r in listed["requests"]] == [(2, "/hello/after")]
            assert _bodies([c_url, a_url, b_url], "/x") == {"limited": 1, "fallback": 2}


def test_route_files_read_at_start_do_not_give_back_what_traffic_spent(
    tmp_path: Path, redis_url: str
) -> None:
    mappings = tmp_path / "mocks"
    mappings.mkdir()
    for route in (LIMITED, FALLBACK):
        spec = {key: value for key, value in route.items() if key != "id"}
        (mappings / f"{route['id']}.json").write_text(json.dumps(spec))
    with serve_many(tmp_path, redis_url, 2, "--mappings", str(mappings)) as (a, b):
        assert requests.get(f"{a.mock_url}/x", timeout=10).text == "limited"
        with serve_process(
            tmp_path,
            "--state",
            redis_url,
            "--mappings",
            str(mappings),
            ready_file=tmp_path / "ready-c.json",
        ) as c:
            urls = [c.mock_url, a.mock_url, b.mock_url]
            assert _bodies(urls, "/x") == {"limited": 1, "fallback": 2}
