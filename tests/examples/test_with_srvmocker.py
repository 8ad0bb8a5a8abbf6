import aiohttp

from controlplane.srvmocker import JsonResponse, MockRoute, start_service


async def test_fetch_fact() -> None:
    routes = [MockRoute("GET", "/fact", "fact")]
    async with start_service(routes) as service:
        service.register("fact", JsonResponse({"fact": "Meow.", "length": 5}))
        async with aiohttp.ClientSession() as http, http.get(service.url / "fact") as answer:
            assert await answer.json() == {"fact": "Meow.", "length": 5}
        service.assert_called("fact", times=1)
