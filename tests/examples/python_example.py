import requests

ADMIN = "http://127.0.0.1:8081"  # the admin port of `make serve`

# A session of your own: routes and journal isolated from every other test.
session = requests.post(f"{ADMIN}/api/sessions", json={"name": "orders-test"}).json()
api, mock = session["admin_url"], session["mock_url"]

requests.post(f"{api}/routes", json={
    "method": "POST", "path": "/orders", "handler": "create_order",
    "match": {"json_subset": {"sku": "cat-food"}},
    "response": {"type": "json", "status": 201, "body": {"order": 1}},
}).raise_for_status()

# The code under test is pointed at `mock` instead of the real service:
answer = requests.post(f"{mock}/orders", json={"sku": "cat-food", "qty": 2})
assert answer.status_code == 201 and answer.json() == {"order": 1}

check = requests.post(f"{api}/handlers/create_order/verify", json={"times": 1}).json()
assert check["ok"], check.get("message")

requests.delete(f"{ADMIN}/api/sessions/{session['id']}")
