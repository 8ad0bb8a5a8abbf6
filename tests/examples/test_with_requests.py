import catfacts
from controlplane_client import JsonResponse, Route

FACTS = Route(method="GET", path="/facts", handler="facts",
              response=JsonResponse(["Meow.", "Cats sleep 16 hours a day."]))


def test_longest_fact_with_requests(controlplane):
    controlplane.add_route(FACTS)

    assert catfacts.with_requests(controlplane.mock_url) == "Cats sleep 16 hours a day."

    controlplane.assert_called("facts", times=1, query={"limit": "2"})
