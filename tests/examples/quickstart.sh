#!/usr/bin/env bash
# docs/quickstart.md's curl commands, run by tests/test_docs_examples.py against a real server.
#
#   tests/examples/quickstart.sh MOCK_URL ADMIN_URL
#
# Every `curl` line, with $MOCK and $ADMIN spelled out as http://127.0.0.1:8080 and
# http://127.0.0.1:8081 and without its `| expect ...` check, appears in docs/quickstart.md.
set -euo pipefail
MOCK=$1
ADMIN=$2
source "$(dirname "$0")/expect.sh"

# Start from an empty default session.
curl -s -X POST -w '%{http_code}\n' $ADMIN/api/reset | expect '204'

# Conditions, and a lower-priority fallback for everything else on the same path.
curl -s -X POST $ADMIN/api/routes -d '[{"method": "POST", "path": "/orders", "handler": "create_order", "priority": 1, "match": {"headers": {"X-Tenant": "acme"}, "json_subset": {"sku": "cat-food"}}, "response": {"type": "json", "status": 201, "body": {"order": 1}}}, {"method": "POST", "path": "/orders", "handler": "reject_order", "priority": 9, "response": {"type": "json", "status": 422, "body": {"error": "unknown tenant"}}}]' | expect '"handler":"reject_order"'
curl -s -w ' %{http_code}\n' -H 'X-Tenant: acme' -d '{"sku": "cat-food", "qty": 2}' $MOCK/orders | expect '{"order":1} 201'
curl -s -w ' %{http_code}\n' -H 'X-Tenant: other' -d '{"sku": "cat-food", "qty": 2}' $MOCK/orders | expect '{"error":"unknown tenant"} 422'

# String matchers on query parameters.
curl -s -X POST $ADMIN/api/routes -d '{"method": "GET", "path": "/search", "handler": "search", "match": {"query": {"q": {"starts_with": "cat"}, "debug": {"absent": true}}}, "response": {"type": "json", "body": {"hits": 3}}}' | expect '"handler":"search"'
curl -s -w ' %{http_code}\n' "$MOCK/search?q=catnip" | expect '{"hits":3} 200'
curl -s -w ' %{http_code}\n' "$MOCK/search?q=catnip&debug=1" | expect '"field":"query debug","expected":"absent","actual":"1"'

# A sequence: fail twice, then succeed, then keep succeeding (a retry test).
curl -s -X POST $ADMIN/api/routes -d '{"method": "GET", "path": "/inventory", "handler": "inventory", "response": {"type": "sequence", "on_exhausted": "last", "responses": [{"type": "json", "status": 503, "body": {"error": "busy"}}, {"type": "json", "status": 503, "body": {"error": "busy"}}, {"type": "json", "body": {"cat-food": 12}}]}}' | expect '"handler":"inventory"'
curl -s -w ' %{http_code}\n' $MOCK/inventory | expect '{"error":"busy"} 503'
curl -s -w ' %{http_code}\n' $MOCK/inventory | expect '{"error":"busy"} 503'
curl -s -w ' %{http_code}\n' $MOCK/inventory | expect '{"cat-food":12} 200'
curl -s -w ' %{http_code}\n' $MOCK/inventory | expect '{"cat-food":12} 200'

# A slow answer, then a broken connection.
curl -s -X PUT $ADMIN/api/handlers/inventory/response -d '{"type": "json", "body": {"cat-food": 12}, "delay": {"fixed_ms": 300}}' | expect '"fixed_ms":300'
curl -s -o /dev/null -w '%{http_code} after %{time_total}s\n' $MOCK/inventory | expect '200 after 0.3'
curl -s -X PUT $ADMIN/api/handlers/inventory/response -d '{"type": "fault", "fault": "connection_reset"}' | expect '"fault":"connection_reset"'
curl -sS $MOCK/inventory 2>&1 | expect 'Connection reset by peer' || test $? = 56

# The journal, filtered: the newest two calls of one handler.
curl -s "$ADMIN/api/requests?handler=inventory&limit=2" | expect '"error":"connection_reset"'

# A route that answers once; the second call finds it used up.
curl -s -X POST $ADMIN/api/routes -d '{"method": "POST", "path": "/tokens", "handler": "token", "times": 1, "response": {"type": "raw", "body": "t0k3n"}}' | expect '"times":1'
curl -s -w ' %{http_code}\n' -X POST $MOCK/tokens | expect 't0k3n 200'
curl -s -w ' %{http_code}\n' -X POST $MOCK/tokens | expect '"field":"times","expected":"at most 1 call(s)","actual":"used up"'

# Everything in the default session, gone.
curl -s -X POST -w '%{http_code}\n' $ADMIN/api/reset | expect '204'
