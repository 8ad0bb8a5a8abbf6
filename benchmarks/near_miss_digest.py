"""sha256 digests of near misses, to check that a change to their ranking or the 404
changed no byte (issue 15).

Run: `PYTHONHASHSEED=0 .venv/bin/python benchmarks/near_miss_digest.py` before and after
a change; the three lines must be the same (they are the same for any hash seed).

- `in-process`: `RouteTable.near_misses` of four tables (10,000 exact `/items/{i}`;
  3,000 mixing methods, `*`, header and query conditions, `times`, templates, regexes
  and priorities; 300 tied routes with shuffled priorities; 45 routes, the small-table
  pool) for new paths, matching paths and repeats (kept pools), GET and POST, some
  with a header, at limits 3, 12 and 1, encoded.
- `server-exact`: through a real server (port 0), the 404s (status line, headers with
  the Date blanked, body) of 10,000 new paths at 10,000 exact routes, then 60 repeats
  (kept pools, canned answers) and 100 HEADs, and the journal's unmatched requests
  (method, path, near misses).
- `server-mixed`: the same for 6,000 requests (GET/POST/PUT, with and without a
  header and a query) at the mixed table, some of which match (and use up `times`).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from typing import Any

import aiohttp
import msgspec
from multidict import CIMultiDict

from controlplane import wire
from controlplane.logs import configure_logging
from controlplane.matching import RouteTable, compile_route
from controlplane.request_view import RequestView
from controlplane.server import ControlplaneServer, ServerConfig

_DATE = re.compile(rb"Date: [^\r]*\r\n")
_LENGTH = re.compile(rb"\r\nContent-Length: (\d+)\r\n")


def exact_specs(count: int = 10_000) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i}", "method": "GET", "path": f"/items/{i}", "handler": f"h{i}"}
        for i in range(count)
    ]


def mixed_specs(count: int = 3000) -> list[dict[str, Any]]:
    rng = random.Random(5)
    specs = []
    for i in range(count):
        kind = rng.randrange(8)
        method = rng.choice(["GET", "GET", "POST", "*"])
        spec: dict[str, Any] = {"id": f"m{i}", "handler": f"h{i % 50}", "method": method}
        if kind == 0:
            spec["path"] = f"/items/{i}/{{id}}"
        elif kind == 1:
            spec["path_regex"] = f"/re/{i}/[a-z]+"
        else:
            spec["path"] = f"/items/{i}"
        if rng.random() < 0.2:
            spec["match"] = {"headers": {"X-Tenant": rng.choice(["a", "b"])}}
        if rng.random() < 0.1:
            spec["match"] = {"query": {"q": rng.choice(["1", "2"])}}
        if rng.random() < 0.1:
            spec["times"] = 1
        if rng.random() < 0.3:
            spec["priority"] = rng.choice([1, 3, 9])
        specs.append(spec)
    return specs


def tied_specs() -> list[dict[str, Any]]:
    return [
        {
            "id": f"t{i}",
            "method": "GET",
            "path": f"/a/{i:03d}",
            "handler": "h",
            "priority": 1 + i % 7,
        }
        for i in range(300)
    ]


def _table(specs: list[dict[str, Any]]) -> RouteTable:
    table = RouteTable()
    for order, spec in enumerate(specs):
        table.add(compile_route(msgspec.convert(spec, wire.Route), order))
    return table


def _view(method: str, path: str, headers: list[tuple[str, str]]) -> RequestView:
    return RequestView(method, path, "", CIMultiDict(headers), b"")


def in_process() -> str:
    digest = hashlib.sha256()
    encode = msgspec.json.encode
    rng = random.Random(9)
    tables = {
        "exact": exact_specs(),
        "mixed": mixed_specs(),
        "tied": tied_specs(),
        "small": exact_specs(45),
    }
    paths = [f"/items/{i}x" for i in range(0, 10_000, 3)]
    paths += [f"/items/{i}" for i in range(0, 3000, 97)]
    paths += [f"/a/{i:03d}y" for i in range(0, 300, 7)]
    paths += [f"/re/{i}/9" for i in range(0, 3000, 41)]
    paths += ["/", "/x", "/items/", "/itemz/12"]
    for name, specs in tables.items():
        table = _table(specs)
        for path in paths:
            for method in ("GET", "POST"):
                headers = [("X-Tenant", "c")] if rng.random() < 0.3 else []
                for limit in (3, 12, 1):
                    misses = table.near_misses(_view(method, path, headers), limit)
                    digest.update(name.encode() + path.encode() + encode(misses))
                    if rng.random() < 0.05:  # again: a kept pool
                        again = table.near_misses(_view(method, path, headers), limit)
                        digest.update(encode(again))
    return digest.hexdigest()


async def _answers(mock_url: str, requests: list[bytes]) -> list[bytes]:
    """Each answer on one keep-alive connection, its Date blanked."""
    host, port = mock_url.split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    answers = []
    try:
        for request in requests:
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            found = _LENGTH.search(head)
            length = int(found.group(1)) if found and not request.startswith(b"HEAD") else 0
            body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
            answers.append(_DATE.sub(b"Date: -\r\n", head) + body)
    finally:
        writer.close()
    return answers


async def through_server(specs: list[dict[str, Any]], requests: list[tuple[str, str, str]]) -> str:
    digest = hashlib.sha256()
    async with (
        ControlplaneServer(ServerConfig(port=0, admin_port=0, journal_size=100_000)) as cp,
        aiohttp.ClientSession() as http,
    ):
        for i in range(0, len(specs), 1000):
            async with http.post(f"{cp.admin_url}/api/routes", json=specs[i : i + 1000]) as a:
                assert a.status == 201, await a.text()
        raw = [
            f"{method} {path} HTTP/1.1\r\nHost: mock\r\n{extra}\r\n".encode()
            for method, path, extra in requests
        ]
        for answer in await _answers(cp.mock_url, raw):
            digest.update(answer)
        async with http.get(f"{cp.admin_url}/api/requests/unmatched") as a:
            unmatched = await a.json()
        for entry in unmatched["requests"]:
            digest.update(
                msgspec.json.encode([entry["method"], entry["path"], entry["near_misses"]])
            )
    return digest.hexdigest()


def main() -> None:
    configure_logging("console", "warning")
    print("in-process", in_process())
    exact = [("GET", f"/items/{i}x", "") for i in range(10_000)]
    exact += [("GET", f"/items/{i}x", "") for i in range(0, 10_000, 500)] * 3
    exact += [("HEAD", f"/items/{i}y", "") for i in range(100)]
    print("server-exact", asyncio.run(through_server(exact_specs(), exact)))
    rng = random.Random(3)
    mixed = []
    for _ in range(6000):
        method = rng.choice(["GET", "POST", "PUT"])
        i = rng.randrange(3100)
        path = rng.choice(
            [f"/items/{i}", f"/items/{i}x", f"/items/{i}/ab", f"/re/{i}/b", f"/re/{i}/1"]
        )
        extra = rng.choice(["", "X-Tenant: a\r\n", "X-Tenant: c\r\n"])
        if rng.random() < 0.3:
            path += "?q=" + rng.choice(["1", "3"])
        mixed.append((method, path, extra))
    print("server-mixed", asyncio.run(through_server(mixed_specs(), mixed)))


if __name__ == "__main__":
    main()
