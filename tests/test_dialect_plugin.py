"""Dialects plug into the admin application: without one, the core serves none of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from aiohttp import web

from controlplane import wiremock
from controlplane.admin.app import Dialect, build_admin_app
from controlplane.sessions import SessionStore


async def admin_url(dialects: Sequence[Dialect]) -> AsyncIterator[str]:
    runner = web.AppRunner(build_admin_app(SessionStore(10), dialects=dialects))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def bare() -> AsyncIterator[str]:
    async for url in admin_url(()):
        yield url


@pytest.fixture
async def with_wiremock() -> AsyncIterator[str]:
    async for url in admin_url((wiremock.DIALECT,)):
        yield url


async def test_without_a_dialect_its_paths_are_unknown_native_404s(bare: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{bare}/__admin/mappings")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == (
        "no admin endpoint GET /__admin/mappings; see GET /api/openapi.json for the API"
    )


async def test_a_plugged_dialect_serves_its_paths_and_shapes_their_errors(
    with_wiremock: str,
) -> None:
    async with httpx.AsyncClient() as http:
        listed = await http.get(f"{with_wiremock}/__admin/mappings")
        refused = await http.post(f"{with_wiremock}/__admin/mappings", json={"request": 1})
        native = await http.post(f"{with_wiremock}/api/routes", json={"request": 1})
    assert listed.status_code == 200 and listed.json()["mappings"] == []
    assert refused.status_code == 422 and "errors" in refused.json()
    assert native.status_code == 422 and "error" in native.json()
