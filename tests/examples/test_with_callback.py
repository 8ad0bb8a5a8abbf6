import catfacts
from controlplane_client import JsonResponse, Route

FACTS = ["Meow.", "Cats sleep 16 hours a day.", "A group of cats is a clowder."]


def test_facts_computed_by_a_python_callback(controlplane):
    controlplane.add_route(Route(method="GET", path="/facts", handler="facts"))

    def facts(request):
        limit = int(request.query["limit"][0])
        return JsonResponse(FACTS[:limit])

    controlplane.on_request("facts", facts)  # closed by the fixture after the test

    assert catfacts.with_requests(controlplane.mock_url) == "Cats sleep 16 hours a day."
    controlplane.assert_called("facts", times=1, query={"limit": "2"})
