"""`serve --state`: every reader of a journal sees every process's entries (the WireMock
dialect's requests API and counts, the live journal stream)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import requests

from tests.origins import Origin
from tests.redis_support import redis_server, redis_url
from tests.shared_support import prepare, serve_many

__all__ = ["redis_server", "redis_url"]

STUB = {
    "id": "8b3a9c1e-0000-4000-8000-000000000001",
    "request": {"method": "GET", "urlPath": "/wm"},
    "response": {"status": 200, "body": "wm"},
}


def test_wiremock_requests_api_counts_and_removes_across_processes(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_many(tmp_path, redis_url, 2) as servers:
        created = requests.post(f"{servers[0].admin_url}/__admin/mappings", json=STUB, timeout=10)
        assert created.status_code == 201, created.text
        for index in range(6):
            server = servers[index % 2]
            path = "/wm" if index < 4 else "/elsewhere"
            requests.get(f"{server.mock_url}{path}", params={"i": index}, timeout=10)
        for server in servers:
            counted = requests.post(
                f"{server.admin_url}/__admin/requests/count",
                json={"method": "GET", "urlPath": "/wm"},
                timeout=10,
            ).json()
            assert counted["count"] == 4
            listed = requests.get(f"{server.admin_url}/__admin/requests", timeout=10).json()
            assert [r["request"]["url"] for r in listed["requests"]] == [
                f"/elsewhere?i={i}" if i >= 4 else f"/wm?i={i}" for i in reversed(range(6))
            ]
            unmatched = requests.get(
                f"{server.admin_url}/__admin/requests/unmatched", timeout=10
            ).json()
            assert len(unmatched["requests"]) == 2
        one = listed["requests"][0]["id"]
        got = requests.get(f"{servers[0].admin_url}/__admin/requests/{one}", timeout=10)
        assert got.status_code == 200 and got.json()["request"]["url"] == "/elsewhere?i=5"
        removed = requests.post(
            f"{servers[0].admin_url}/__admin/requests/remove",
            json={"method": "GET", "urlPath": "/elsewhere"},
            timeout=10,
        )
        assert removed.status_code == 200
        for server in servers:
            listed = requests.get(f"{server.admin_url}/__admin/requests", timeout=10).json()
            assert [r["request"]["url"] for r in listed["requests"]] == [
                f"/wm?i={i}" for i in reversed(range(4))
            ]
            native = requests.get(f"{server.admin_url}/api/requests", timeout=10).json()
            assert native["evicted"] == 0


def test_the_live_journal_stream_shows_requests_served_by_another_process(
    tmp_path: Path, redis_url: str
) -> None:
    routes = [
        {
            "id": "r",
            "method": "GET",
            "path": "/live/{n}",
            "handler": "r",
            "response": {"type": "raw", "body": "ok"},
        }
    ]
    with serve_many(tmp_path, redis_url, 2) as (reader, server):
        urls = prepare([reader, server], "s1", routes)
        seen: list[str] = []
        opened = threading.Event()

        def follow() -> None:
            with requests.get(
                f"{reader.admin_url}/api/sessions/s1/requests/stream", stream=True, timeout=20
            ) as feed:
                for line in feed.iter_lines():
                    if line == b": open":
                        opened.set()
                    if line.startswith(b"data: "):
                        seen.append(json.loads(line[6:])["path"])
                        if len(seen) == 3:
                            return

        follower = threading.Thread(target=follow)
        follower.start()
        assert opened.wait(20)
        for index in range(3):
            assert requests.get(f"{urls[1]}/live/{index}", timeout=10).status_code == 200
        follower.join(20)
        assert seen == ["/live/0", "/live/1", "/live/2"]


def test_a_proxied_entry_and_its_snapshot_read_through_another_process(
    tmp_path: Path, redis_url: str
) -> None:
    with Origin() as origin, serve_many(tmp_path, redis_url, 2) as servers:
        routes = [
            {
                "id": "p",
                "method": "GET",
                "path_regex": "^/json/.*",
                "handler": "p",
                "response": {"type": "proxy", "url": origin.url},
            }
        ]
        urls = prepare(servers, "s1", routes)
        proxied = requests.get(f"{urls[0]}/json/first", timeout=10)
        assert proxied.status_code == 200
        listed = requests.get(
            f"{servers[1].admin_url}/api/sessions/s1/requests", timeout=10
        ).json()["requests"]
        assert [(r["path"], r["proxied"], r["response"]["status"]) for r in listed] == [
            ("/json/first", True, 200)
        ]
        snapshot = requests.post(
            f"{servers[1].admin_url}/api/sessions/s1/recordings/snapshot",
            json={"add_routes": False},
            timeout=10,
        )
        assert snapshot.status_code == 200, snapshot.text
        [recorded] = snapshot.json()["routes"]
        assert recorded["path"] == "/json/first"
        assert recorded["response"]["body"] == proxied.json()


def test_a_recording_stopped_through_one_process_makes_the_same_routes_everywhere(
    tmp_path: Path, redis_url: str
) -> None:
    with Origin() as origin, serve_many(tmp_path, redis_url, 2) as servers:
        urls = prepare(servers, "s1", [])
        api = f"{servers[0].admin_url}/api/sessions/s1/recordings"
        assert requests.post(api, json={"target": origin.url}, timeout=10).status_code == 201
        for index, url in enumerate(urls):  # one exchange recorded by each process
            assert requests.get(f"{url}/json/by-{index}", timeout=10).status_code == 200
        stopped = requests.post(
            f"{servers[1].admin_url}/api/sessions/s1/recordings/stop", timeout=10
        )
        assert stopped.status_code == 200, stopped.text
        assert sorted(r["path"] for r in stopped.json()["routes"]) == ["/json/by-0", "/json/by-1"]
        listed = [
            requests.get(f"{s.admin_url}/api/sessions/s1/routes", timeout=10).json()["routes"]
            for s in servers
        ]
        assert listed[0] == listed[1] and len(listed[0]) == 2
