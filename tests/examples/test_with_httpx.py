import catfacts
from controlplane_client import JsonResponse, Route

FACTS = Route(method="GET", path="/facts", handler="facts",
              response=JsonResponse(["Meow.", "Cats sleep 16 hours a day."]))


def test_longest_fact_with_httpx(controlplane):
    controlplane.add_route(FACTS)

    assert catfacts.with_httpx(controlplane.mock_url) == "Cats sleep 16 hours a day."

    controlplane.assert_called("facts", times=1, query={"limit": "2"})


async def test_longest_fact_with_httpx_async(controlplane):
    controlplane.add_route(FACTS)

    assert await catfacts.with_httpx_async(controlplane.mock_url) == "Cats sleep 16 hours a day."

    controlplane.assert_called("facts", times=1, query={"limit": "2"})
