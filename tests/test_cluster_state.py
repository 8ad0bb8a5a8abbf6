"""`serve --state`: the connection to the shared state, and the flags around it."""

from __future__ import annotations

import asyncio

import pytest
import redis

from controlplane.cluster import Cluster, StateUnreachable
from controlplane.server import ControlplaneServer, ServerConfig
from tests.redis_support import redis_server, redis_url

__all__ = ["redis_server", "redis_url"]


def test_state_url_must_be_redis() -> None:
    with pytest.raises(ValueError) as caught:
        ServerConfig(state="postgres://127.0.0.1/db")
    assert str(caught.value) == (
        "--state takes a Redis URL (redis://host:port/db, rediss://... or "
        "unix:///path/to/socket), got 'postgres://127.0.0.1/db'"
    )


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_at_least_one(workers: int) -> None:
    with pytest.raises(ValueError, match=rf"^--workers must be >= 1, got {workers}$"):
        ServerConfig(workers=workers, state="redis://127.0.0.1:1/0")


def test_workers_need_state() -> None:
    with pytest.raises(ValueError) as caught:
        ServerConfig(workers=2)
    assert str(caught.value) == (
        "--workers needs --state redis://host:port/db: without shared state each "
        "worker would have its own routes and journal"
    )
    assert ServerConfig(workers=1).state is None  # one process in memory: the default


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unreachable_state_says_where_and_what_to_do() -> None:
    port = _closed_port()

    async def start() -> None:
        server = ControlplaneServer(
            ServerConfig(port=0, admin_port=0, state=f"redis://u:secret@127.0.0.1:{port}/0")
        )
        await server.start()

    with pytest.raises(StateUnreachable) as caught:
        asyncio.run(start())
    message = caught.value.message
    assert message.startswith(
        f"cannot reach the shared state at redis://u:***@127.0.0.1:{port}/0: "
    )
    assert message.endswith(
        "; start Redis (6.2+ or Valkey) there, or give --state the URL of one that runs"
    )
    assert "secret" not in message


def test_connects_and_names_keys_by_session(redis_url: str) -> None:
    async def run() -> tuple[str, str]:
        async with ControlplaneServer(
            ServerConfig(port=0, admin_port=0, state=redis_url)
        ) as server:
            assert server.cluster is not None
            assert server.store.cluster is server.cluster
            await server.cluster.redis.set(Cluster.key("s1", "probe"), b"1")
            return server.cluster.process_id, server.cluster.url

    process_id, url = asyncio.run(run())
    assert url == redis_url
    assert len(process_id) == 16
    assert redis.Redis.from_url(redis_url).get("cp:{s1}:probe") == b"1"
