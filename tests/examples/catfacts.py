"""The service under test: it asks a cat-facts API for facts and keeps the longest.

The same logic, once per HTTP library, so each example test shows that library.
"""

import json
import urllib.request

import aiohttp
import httpx
import requests


def longest(facts: list[str]) -> str:
    return max(facts, key=len)


def with_requests(base_url: str) -> str:
    answer = requests.get(f"{base_url}/facts", params={"limit": 2}, timeout=5)
    answer.raise_for_status()
    return longest(answer.json())


def with_httpx(base_url: str) -> str:
    answer = httpx.get(f"{base_url}/facts", params={"limit": 2}, timeout=5)
    answer.raise_for_status()
    return longest(answer.json())


async def with_httpx_async(base_url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(f"{base_url}/facts", params={"limit": 2})
        answer.raise_for_status()
        return longest(answer.json())


async def with_aiohttp(base_url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/facts", params={"limit": 2}) as answer,
    ):
        answer.raise_for_status()
        return longest(await answer.json())


def with_urllib(base_url: str) -> str:
    with urllib.request.urlopen(f"{base_url}/facts?limit=2", timeout=5) as answer:
        return longest(json.load(answer))
